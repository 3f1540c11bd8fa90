using System.CommandLine;
using System.Diagnostics;
using PureLlama.Compute;
using PureLlama.Diagnostics;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama selftest</c>: every kernel against its float64 reference on the chosen device.</summary>
internal static class SelftestCommand
{
    public static Command Create()
    {
        var device = DeviceOption.Create();
        var filter = new Option<string?>("--filter") { Description = "only kernels whose name contains this text" };
        var command = new Command("selftest", "Run every kernel against its float64 reference on the chosen device and print a table.") { device, filter };
        command.SetAction(parse => Run(DeviceOption.Resolve(parse.GetValue(device)), parse.GetValue(filter)));
        return command;
    }

    private static int Run(Tensors.Device device, string? filter)
    {
        IBackend backend;
        try { backend = Backends.Get(device); }
        catch (PureLlamaException e) { Console.Error.WriteLine($"error: {e.Message}"); return 2; }
        Console.WriteLine($"selftest on {backend.Name}");
        Console.WriteLine($"{"kernel",-24} {"shape",-34} {"rel err",10} {"max abs",10} {"bound",8}  result");
        int failed = 0, total = 0, skipped = 0;
        var clock = Stopwatch.StartNew();
        foreach (var check in KernelChecks.For(device))
        {
            if (filter is not null && !check.Kernel.Contains(filter, StringComparison.OrdinalIgnoreCase)) continue;
            total++;
            KernelCheckResult r;
            try { r = check.Execute(backend); }
            catch (Exception e) { r = new(check.Kernel, check.Shape, double.NaN, double.NaN, 0, $"{e.GetType().Name}: {e.Message}"); }
            if (r.Skipped is not null) skipped++;
            else if (!r.Passed) failed++;
            string verdict = r.Skipped is not null ? $"skipped ({r.Skipped})" : r.Passed ? "pass" : "FAIL" + (r.Failure is null ? "" : $" ({r.Failure})");
            Console.WriteLine($"{check.Kernel,-24} {check.Shape,-34} {r.RelativeError,10:0.0e+0} {r.MaxAbsError,10:0.0e+0} {r.Tolerance,8:0e+0}  {verdict}");
        }
        if (total == 0)
        {
            Console.Error.WriteLine($"error: --filter '{filter}' matches no kernel (selftest without --filter lists them all).");
            return 2;
        }
        Console.WriteLine($"{total - failed - skipped}/{total} passed{(skipped > 0 ? $", {skipped} skipped (not implemented on this backend)" : "")} on {device} in {clock.Elapsed.TotalSeconds:F1} s");
        return failed == 0 && total > 0 ? 0 : 1;
    }
}
