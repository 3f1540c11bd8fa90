using System.CommandLine;
using PureLlama.Cli.Bench;
using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama bench</c>: times our SIMD kernels on fixed shapes (warm-up, median of repeats),
/// holds each figure against the machine's measured roofline and, with <c>--vs-pytorch</c>, runs
/// benchmarks/pytorch/kernels.py on the same work afterwards and adds PyTorch's figure and the
/// ratio. Timing is wall clock (Stopwatch) around whole kernel calls, JIT excluded by the warm-up.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var vsPyTorch = new Option<bool>("--vs-pytorch") { Description = "Also run benchmarks/pytorch/kernels.py on the same work and print the ratio." };
        var json = new Option<string?>("--json") { Description = "Write every result (and the PyTorch report) to this JSON file." };
        var repeats = new Option<int>("--repeats") { Description = "Timed samples per item (median reported).", DefaultValueFactory = _ => 15 };
        var threads = new Option<int>("--threads") { Description = "Threads for our kernels and for PyTorch.", DefaultValueFactory = _ => SimdThreading.MaxThreads };
        var only = new Option<string?>("--only") { Description = "Comma-separated item ids to run (see --list)." };
        var cpuTime = new Option<bool>("--cpu-time") { Description = "Time by the process's CPU time, not wall time (with --threads 1 on a loaded machine)." };
        var list = new Option<bool>("--list") { Description = "List the item ids and exit." };
        var noRoofline = new Option<bool>("--no-roofline") { Description = "Skip the roofline probe (no % of roofline column)." };
        var rooflineOnly = new Option<bool>("--roofline-only") { Description = "Print only the roofline probe (FMA peak, read on huge and 4 KiB pages, copy) and exit." };
        var bandwidthMiB = new Option<int>("--bandwidth-mib") { Description = "Buffer size of the bandwidth probe, MiB.", DefaultValueFactory = _ => 1024 };
        var python = new Option<string>("--python") { Description = "Python with torch installed.", DefaultValueFactory = _ => "/usr/bin/python3" };
        var script = new Option<string?>("--pytorch-script") { Description = "Path of benchmarks/pytorch/kernels.py (found from the working directory by default)." };
        var device = DeviceOption.Create();
        device.Description = "Time the backend ops on this device instead (cuda, ilgpu-cpu, cpu): matmul, GEMV, RMSNorm, attention.";
        var keepEnv = new Option<bool>("--keep-openblas-env") { Description = "Keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for PyTorch (by default they are unset: they hold OpenBLAS to AVX2)." };

        var command = new Command("bench", "Benchmark the SIMD kernels against the measured roofline (and PyTorch with --vs-pytorch).");
        foreach (var o in new Option[] { vsPyTorch, json, repeats, threads, only, cpuTime, list, noRoofline, rooflineOnly, bandwidthMiB, python, script, keepEnv, device })
            command.Options.Add(o);

        command.SetAction(parse =>
        {
            if (parse.GetValue(device) is { } deviceName)
                return DeviceBench.Run(DeviceOption.Resolve(deviceName), Math.Max(1, parse.GetValue(repeats)), parse.GetValue(only));
            if (parse.GetValue(rooflineOnly))
            {
                int n = parse.GetValue(threads);
                if (n < 1) { Console.Error.WriteLine("--threads must be at least 1"); return 2; }
                Console.WriteLine(BenchReport.RooflineLine(Roofline.Measure(n, (long)Math.Max(64, parse.GetValue(bandwidthMiB)) << 20)));
                return 0;
            }
            if (parse.GetValue(list))
            {
                foreach (var item in BenchWork.All) Console.WriteLine($"{item.Id,-34} {item.Work}, {item.Shape}");
                return 0;
            }
            var options = new BenchOptions(
                parse.GetValue(vsPyTorch), parse.GetValue(json), Math.Max(1, parse.GetValue(repeats)), parse.GetValue(threads),
                parse.GetValue(only), !parse.GetValue(noRoofline), Math.Max(64, parse.GetValue(bandwidthMiB)),
                parse.GetValue(python) ?? "/usr/bin/python3", parse.GetValue(script), parse.GetValue(keepEnv),
                "purellama bench " + string.Join(' ', parse.Tokens.Select(t => t.Value)), parse.GetValue(cpuTime));
            return Run(options);
        });
        return command;
    }

    private sealed record BenchOptions(bool VsPyTorch, string? Json, int Repeats, int Threads, string? Only, bool Roofline,
        int BandwidthMiB, string Python, string? Script, bool KeepOpenBlasEnv, string CommandLine, bool CpuTime);

    private static int Run(BenchOptions o)
    {
        if (o.Threads < 1) { Console.Error.WriteLine("--threads must be at least 1"); return 2; }
        SimdThreading.MaxThreads = o.Threads;

        var items = BenchWork.All.ToList();
        if (!string.IsNullOrWhiteSpace(o.Only))
        {
            var wanted = o.Only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            var unknown = wanted.Where(w => items.All(i => i.Id != w)).ToList();
            if (unknown.Count > 0) { Console.Error.WriteLine($"error: unknown item(s): {string.Join(", ", unknown)} (see --list)"); return 2; }
            items = items.Where(i => wanted.Contains(i.Id)).ToList();
        }
        string? scriptPath = null;
        if (o.VsPyTorch)
        {
            scriptPath = o.Script ?? PyTorchRunner.FindScript();
            if (scriptPath == null || !File.Exists(scriptPath))
            {
                Console.Error.WriteLine("benchmarks/pytorch/kernels.py not found: run from the repository or pass --pytorch-script.");
                return 2;
            }
        }

        string loadBefore = BenchReport.LoadAverage();
        Console.WriteLine($"machine: {BenchReport.MachineLine()}");
        Console.WriteLine($"load average (1/5/15 min) before: {loadBefore}");
        Console.WriteLine($"threads: {o.Threads}, matmul ISA: {GemmIsa.Current}, samples per item: {o.Repeats} (median{(o.CpuTime ? " of CPU time" : "")})");

        RooflineFigures? roof = null;
        if (o.Roofline)
        {
            Console.Error.WriteLine("measuring the roofline …");
            roof = Roofline.Measure(o.Threads, (long)o.BandwidthMiB << 20);
            Console.WriteLine(BenchReport.RooflineLine(roof));
        }

        var timings = new List<(WorkItem Item, Timing Timing)>();
        foreach (var item in items)
        {
            using var buffers = new BenchBuffers(seed: 1234);
            var call = item.Prepare(buffers);
            var t = BenchTimer.Measure(call, o.Repeats, cpuTime: o.CpuTime);
            Console.Error.WriteLine($"  purellama {item.Id}: {t.MedianMs:F3} ms, {item.Rate(t.MedianMs):F1} {item.Unit} (best sample {t.MinMs:F3} ms, {item.Rate(t.MinMs):F1} {item.Unit})");
            timings.Add((item, t));
        }

        PyTorchRun? torch = null;
        if (o.VsPyTorch)
        {
            Console.Error.WriteLine("running PyTorch on the same work …");
            try
            {
                torch = PyTorchRunner.Run(o.Python, scriptPath!, items.Where(i => i.InPyTorchScript).Select(i => i.Id), o.Threads, o.Repeats, o.KeepOpenBlasEnv);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or System.Text.Json.JsonException or KeyNotFoundException)
            {
                Console.Error.WriteLine($"PyTorch run failed: {e.Message}");
                Console.Error.WriteLine("(scripts/bench-vs-pytorch.sh installs python3-torch and OpenBLAS with apt)");
                return 1;
            }
            Console.WriteLine($"PyTorch {torch.TorchVersion}, {torch.Threads} threads; {torch.BlasSummary}");
            Console.WriteLine($"PyTorch command: {torch.Command}");
        }

        var rows = timings.Select(x => new BenchRow(x.Item, x.Timing, BenchReport.PercentOfRoof(x.Item, x.Item.Rate(x.Timing.MedianMs), roof),
            torch != null && torch.Results.TryGetValue(x.Item.Id, out var pt) ? pt : null)).ToList();
        Console.WriteLine($"load average (1/5/15 min) after: {BenchReport.LoadAverage()}");
        Console.WriteLine();
        Console.Write(BenchReport.Table(rows, torch != null));
        Console.WriteLine();
        Console.WriteLine("% roof: GFLOP/s vs the FMA peak; GEMV GB/s (weight bytes) vs read bandwidth; RMSNorm/softmax GB/s (read+written) vs copy bandwidth.");
        if (torch != null)
        {
            Console.WriteLine("ratio = our rate / PyTorch's rate (> 1: PureLlama faster). What PyTorch ran:");
            foreach (var r in rows.Where(r => r.Torch != null)) Console.WriteLine($"  {r.Item.Id}: ours {r.Item.Ours}; PyTorch {r.Torch!.Op}");
        }
        if (o.Json != null)
        {
            BenchReport.WriteJson(o.Json, o.CommandLine, o.Threads, loadBefore, roof, rows, torch);
            Console.WriteLine($"results written to {o.Json}");
        }
        return 0;
    }
}
