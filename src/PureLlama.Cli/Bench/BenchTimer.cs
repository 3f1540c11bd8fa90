using System.Diagnostics;

namespace PureLlama.Cli.Bench;

/// <summary>Per-call timing of one work item: median and best over the samples.</summary>
internal sealed record Timing(double MedianMs, double MinMs, int Samples, int CallsPerSample);

/// <summary>
/// Times a call the way BenchmarkDotNet would, minus the statistics: warm-up first (at least
/// <c>minWarmupCalls</c> calls and <c>warmupMs</c> of wall time, so the JIT has tiered the
/// kernels up and buffers are paged in), then a number of samples, each timing enough calls back
/// to back to last ≥ <c>minSampleMs</c>. Reports the median (and best) time of one call. With <c>cpuTime</c> the
/// samples are the process's CPU time instead of wall time (one thread on a loaded machine: the time the kernel ran).
/// </summary>
internal static class BenchTimer
{
    public static Timing Measure(Action call, int samples, double warmupMs = 400, int minWarmupCalls = 5, double minSampleMs = 20, bool cpuTime = false)
    {
        var process = Process.GetCurrentProcess();
        double Now() { process.Refresh(); return process.TotalProcessorTime.TotalMilliseconds; }
        var sw = Stopwatch.StartNew();
        int warm = 0;
        while (warm < minWarmupCalls || sw.Elapsed.TotalMilliseconds < warmupMs)
        {
            call();
            warm++;
        }
        // Estimate one call from the last warm-up calls (the first ones include JIT).
        sw.Restart();
        int probe = Math.Max(1, Math.Min(warm / 2, 3));
        for (int i = 0; i < probe; i++) call();
        double perCall = sw.Elapsed.TotalMilliseconds / probe;
        int calls = (int)Math.Clamp(Math.Ceiling(minSampleMs / Math.Max(perCall, 1e-4)), 1, 100_000);

        var times = new double[samples];
        for (int s = 0; s < samples; s++)
        {
            sw.Restart();
            double cpu0 = cpuTime ? Now() : 0;
            for (int i = 0; i < calls; i++) call();
            times[s] = (cpuTime ? Now() - cpu0 : sw.Elapsed.TotalMilliseconds) / calls;
        }
        Array.Sort(times);
        double median = samples % 2 == 1 ? times[samples / 2] : 0.5 * (times[samples / 2 - 1] + times[samples / 2]);
        return new Timing(median, times[0], samples, calls);
    }
}
