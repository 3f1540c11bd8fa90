using System.Diagnostics;
using PureLlama.Compute;

namespace PureLlama.Diagnostics;

/// <summary>The work of one timed op: floating-point operations, or the bytes it moves when it is memory-bound.</summary>
internal readonly record struct OpWork(double Flops, double Bytes)
{
    /// <summary>A compute-bound op (matmul, attention): reported in GFLOP/s.</summary>
    public static OpWork Compute(double flops) => new(flops, 0);

    /// <summary>A memory-bound op (elementwise, norms, copies): reported in GB/s of data read and written.</summary>
    public static OpWork Memory(double bytes) => new(0, bytes);

    /// <summary>Bytes of <paramref name="floats"/> F32 elements.</summary>
    public static OpWork Floats(double floats) => Memory(4 * floats);

    /// <summary>The rate at <paramref name="seconds"/> per call.</summary>
    public string Rate(double seconds) => Flops > 0 ? $"{Flops / seconds / 1e9,8:F2} GFLOP/s" : $"{Bytes / seconds / 1e9,8:F2} GB/s";
}

/// <summary>One op timed by the performance mode: seconds per call (median of 3 batches) and its work.</summary>
internal sealed record OpTiming(string Label, double Seconds, int Repeats, OpWork Work);

/// <summary>
/// The performance mode of the harness (ggml's test-backend-ops "perf"): while a scope is open on this thread, every op
/// a check runs through <see cref="Op"/> is, after its one checked run, repeated in batches of at least
/// <see cref="MinBatchSeconds"/> (backend synchronized around each batch) and its time per call recorded. No assertions:
/// ops that update in place (AdamW, accumulating products) leave their outputs changed, so a timed check's numeric
/// verdict is not reported. Outside a scope <see cref="Op"/> runs the op once.
/// </summary>
internal sealed class CheckTiming : IDisposable
{
    /// <summary>Least wall time of one timed batch.</summary>
    public const double MinBatchSeconds = 0.02;

    private const int Batches = 3, MaxRepeats = 1 << 16;

    [ThreadStatic] private static CheckTiming? t_current;
    private readonly CheckTiming? _outer;
    private readonly List<OpTiming> _timings = [];

    private CheckTiming(CheckTiming? outer) => _outer = outer;

    /// <summary>The ops timed so far in this scope, in order.</summary>
    public IReadOnlyList<OpTiming> Timings => _timings;

    /// <summary>Opens a timing scope on this thread (dispose to close it).</summary>
    public static CheckTiming Begin() => t_current = new CheckTiming(t_current);

    /// <summary>Runs <paramref name="op"/> once, then, inside a scope, times it.</summary>
    public static void Op(IBackend backend, string label, OpWork work, Action op)
    {
        op();
        t_current?.Measure(backend, label, work, op);
    }

    private void Measure(IBackend backend, string label, OpWork work, Action op)
    {
        backend.Synchronize();
        var clock = Stopwatch.StartNew();
        op();
        backend.Synchronize();
        double once = Math.Max(clock.Elapsed.TotalSeconds, 1e-7);
        int repeats = (int)Math.Clamp(Math.Ceiling(MinBatchSeconds / once), 1, MaxRepeats);
        var perCall = new double[Batches];
        for (int b = 0; b < Batches; b++)
        {
            clock.Restart();
            for (int r = 0; r < repeats; r++) op();
            backend.Synchronize();
            perCall[b] = clock.Elapsed.TotalSeconds / repeats;
        }
        Array.Sort(perCall);
        _timings.Add(new OpTiming(label, perCall[Batches / 2], repeats, work));
    }

    public void Dispose() => t_current = _outer;
}
