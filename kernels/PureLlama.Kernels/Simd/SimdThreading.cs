namespace PureLlama.Kernels.Simd;

/// <summary>
/// How many threads the SIMD CPU kernels may use. Defaults to <see cref="Environment.ProcessorCount"/>;
/// set <see cref="MaxThreads"/> (or the PURELLAMA_THREADS environment variable) to change it.
/// </summary>
internal static class SimdThreading
{
    private static int _maxThreads = ReadDefault();

    /// <summary>Upper bound on worker threads used by one kernel call (at least 1).</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "MaxThreads must be at least 1.");
    }

    /// <summary>Parallel options capped at <see cref="MaxThreads"/>.</summary>
    public static ParallelOptions Options => new() { MaxDegreeOfParallelism = _maxThreads };

    private static int ReadDefault()
    {
        var env = Environment.GetEnvironmentVariable("PURELLAMA_THREADS");
        return int.TryParse(env, out var n) && n >= 1 ? n : Environment.ProcessorCount;
    }
}
