using System.CommandLine;
using System.Diagnostics;
using PureLlama.Compute;
using PureLlama.Diagnostics;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama selftest</c>: the one harness in its three modes (ggml's test-backend-ops), on the chosen device:
/// numeric (every kernel against its float64 reference, outputs poisoned and guarded), grad (every differentiable op
/// against float64 central differences) and perf (each kernel check's op timed: GFLOP/s or GB/s, no assertions).
/// </summary>
internal static class SelftestCommand
{
    public static Command Create()
    {
        var device = DeviceOption.Create();
        var filter = new Option<string?>("--filter") { Description = "only kernels whose name contains this text" };
        var mode = new Option<string>("--mode")
        {
            Description = "numeric (against float64), grad (gradients against finite differences) or perf (timings, no assertions)",
            DefaultValueFactory = _ => "numeric",
        };
        mode.AcceptOnlyFromAmong("numeric", "grad", "perf");
        var command = new Command("selftest", "Run the kernel harness on the chosen device (numeric, grad or perf mode) and print a table.") { device, filter, mode };
        command.SetAction(parse => Run(DeviceOption.Resolve(parse.GetValue(device)), parse.GetValue(filter), parse.GetValue(mode) ?? "numeric"));
        return command;
    }

    private static int Run(Tensors.Device device, string? filter, string mode)
    {
        IBackend backend;
        try { backend = Backends.Get(device); }
        catch (PureLlamaException e) { Console.Error.WriteLine($"error: {e.Message}"); return 2; }
        Console.WriteLine($"selftest --mode {mode} on {backend.Name}");
        var checks = (mode == "grad" ? GradChecks.For(device) : KernelChecks.For(device))
            .Where(c => filter is null || c.Kernel.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();
        if (checks.Count == 0)
        {
            Console.Error.WriteLine($"error: --filter '{filter}' matches no kernel (selftest without --filter lists them all).");
            return 2;
        }
        return mode == "perf" ? Perf(backend, checks) : Verify(backend, device, checks);
    }

    private static int Verify(IBackend backend, Tensors.Device device, List<KernelCheck> checks)
    {
        Console.WriteLine($"{"kernel",-24} {"shape",-34} {"rel err",10} {"max abs",10} {"bound",8}  result");
        int failed = 0, skipped = 0;
        var clock = Stopwatch.StartNew();
        foreach (var check in checks)
        {
            KernelCheckResult r;
            try { r = check.Execute(backend); }
            catch (Exception e) { r = new(check.Kernel, check.Shape, double.NaN, double.NaN, 0, $"{e.GetType().Name}: {e.Message}"); }
            if (r.Skipped is not null) skipped++;
            else if (!r.Passed) failed++;
            string verdict = r.Skipped is not null ? $"skipped ({r.Skipped})" : r.Passed ? "pass" : "FAIL" + (r.Failure is null ? "" : $" ({r.Failure})");
            Console.WriteLine($"{check.Kernel,-24} {check.Shape,-34} {r.RelativeError,10:0.0e+0} {r.MaxAbsError,10:0.0e+0} {r.Tolerance,8:0e+0}  {verdict}");
        }
        int total = checks.Count;
        Console.WriteLine($"{total - failed - skipped}/{total} passed{(skipped > 0 ? $", {skipped} skipped (not implemented on this backend)" : "")} on {device} in {clock.Elapsed.TotalSeconds:F1} s");
        return failed == 0 && total > 0 ? 0 : 1;
    }

    // Each check's ops timed after their checked run; no verdicts (timed ops were repeated). Exit 1 only if a check threw.
    private static int Perf(IBackend backend, List<KernelCheck> checks)
    {
        Console.WriteLine($"{"kernel",-24} {"shape",-34} {"op",-12} {"µs/call",10} {"calls",6}  rate");
        int errors = 0, untimed = 0;
        foreach (var check in checks)
        {
            try
            {
                var (_, timings) = check.Time(backend);
                if (timings.Count == 0) { untimed++; Console.WriteLine($"{check.Kernel,-24} {check.Shape,-34} (no timed op)"); }
                foreach (var t in timings)
                    Console.WriteLine($"{check.Kernel,-24} {check.Shape,-34} {t.Label,-12} {t.Seconds * 1e6,10:F1} {t.Repeats,6}  {t.Work.Rate(t.Seconds)}");
            }
            catch (Exception e) { errors++; Console.WriteLine($"{check.Kernel,-24} {check.Shape,-34} error: {e.GetType().Name}: {e.Message}"); }
        }
        Console.WriteLine($"{checks.Count} checks timed{(untimed > 0 ? $", {untimed} without a timed op" : "")}{(errors > 0 ? $", {errors} errors" : "")}; load {LoadAverage()}");
        return errors == 0 && checks.Count > 0 ? 0 : 1;
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }
}
