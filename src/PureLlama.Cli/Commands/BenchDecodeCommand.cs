using PureLlama.Autograd;
using System.CommandLine;
using System.Diagnostics;
using PureLlama.Kernels.Simd;
using PureLlama.Cli.Bench;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama bench-decode</c>: prefill and decode speed of a Llama-3.2-1B-shaped model with
/// random BF16 weights (optionally quantized to NF4 or INT8 while loading) (vocab 128256, hidden 2048, 16 layers, 32 heads, 8 KV heads, intermediate 8192,
/// tied embeddings), written once as a safetensors folder and loaded copied and/or mapped, with the
/// ratio to the memory-bandwidth roofline (weight bytes per token ÷ bandwidth).
/// </summary>
internal static class BenchDecodeCommand
{
    public static Command Create()
    {
        var dir = new Option<string>("--dir") { Description = "folder of the random checkpoint (created when missing)", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "purellama-random-1b") };
        var prompt = new Option<int>("--prompt") { Description = "prompt tokens to prefill", DefaultValueFactory = _ => 128 };
        var decode = new Option<int>("--decode") { Description = "tokens to decode", DefaultValueFactory = _ => 32 };
        var loading = new Option<string>("--loading") { Description = "copied | mapped | both", DefaultValueFactory = _ => "both" };
        var bandwidth = new Option<double?>("--bandwidth-gbs") { Description = "memory bandwidth for the roofline in GB/s (default: measured here by a 2 GiB read)" };
        var layers = new Option<int>("--layers") { Description = "decoder layers (16 for the 1B shape; fewer for a quick check)", DefaultValueFactory = _ => 16 };
        var model = new Option<string?>("--model") { Description = "time this model folder (e.g. one written by purellama quantize) instead of the random 1B-shaped one" };
        var quantize = new Option<string?>("--quantize") { Description = "quantize the projections while loading: nf4 | int8 (default: BF16 as stored)" };
        var quantizeLmHead = new Option<bool>("--quantize-lm-head") { Description = "with --quantize: quantize lm_head too (its own copy when tied)" };
        var lmHeadFormat = ModelCliOptions.CreateLmHeadFormat();
        var exact = new Option<bool>("--exact-dequant") { Description = "multiply quantized weights as exact F32 codes instead of the int8 dot-product kernels" };
        var runs = new Option<int>("--runs") { Description = "timed prefill + decode runs; the best prefill and the best decode are reported (scripts/bench-vs-llamacpp.sh passes 2: llama-bench runs twice there)", DefaultValueFactory = _ => 1 };
        var versus = new Option<string[]>("--versus") { Description = "also time these folders, alternating decode steps with --model (or the random BF16 one) in one process (ratios robust to machine load)", AllowMultipleArgumentsPerToken = true };
        var device = DeviceOption.Create();
        var command = new Command("bench-decode", "Prefill/decode speed of a random Llama-3.2-1B-shaped BF16 model against the bandwidth roofline.")
        {
            dir, prompt, decode, loading, bandwidth, layers, model, quantize, quantizeLmHead, lmHeadFormat, versus, device, exact, runs,
        };
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            if (parse.GetValue(layers) < 1) throw new ArgumentException($"--layers must be at least 1, not {parse.GetValue(layers)}.");
            if (parse.GetValue(runs) < 1) throw new ArgumentException($"--runs must be at least 1, not {parse.GetValue(runs)}.");
            if (parse.GetValue(exact)) Compute.QuantizedInference.ExactDequant = true;   // only ever turned on: in-process callers (tests) keep their choice
            return parse.GetValue(versus) is { Length: > 0 } others
                ? Versus([parse.GetValue(model) ?? EnsureRandom(parse.GetValue(dir)!, parse.GetValue(layers)), .. others], parse.GetValue(prompt), parse.GetValue(decode), DeviceOption.Resolve(parse.GetValue(device)))
                : Run(parse.GetValue(model) ?? parse.GetValue(dir)!, parse.GetValue(model) is null, parse.GetValue(prompt), parse.GetValue(decode),
                    parse.GetValue(loading)!, parse.GetValue(bandwidth), parse.GetValue(layers), ModelCliOptions.QuantizeOption(parse.GetValue(quantize), parse.GetValue(quantizeLmHead), parse.GetValue(lmHeadFormat)),
                    DeviceOption.Resolve(parse.GetValue(device)), parse.GetValue(runs));
        }));
        return command;
    }

    private static string EnsureRandom(string dir, int layers)
    {
        RandomCheckpoint.EnsureWritten(dir, layers);
        return dir;
    }

    private static int Versus(string[] dirs, int prompt, int rounds, Device device)
    {
        BenchDecodeVersus.Run(dirs, prompt, rounds, device);
        return 0;
    }

    private static int Run(string dir, bool random, int promptTokens, int decodeTokens, string loading, double? bandwidthGbs, int layers, QuantizationConfig? quantize, Device device, int runs)
    {
        if (promptTokens < 1 || decodeTokens < 1) throw new ArgumentException("--prompt and --decode must be at least 1.");
        var modes = loading.ToLowerInvariant() switch
        {
            "both" => new[] { WeightLoading.Copied, WeightLoading.Mapped },
            "copied" => [WeightLoading.Copied],
            "mapped" => [WeightLoading.Mapped],
            _ => throw new ArgumentException($"--loading must be copied, mapped or both, not '{loading}'."),
        };
        if (random) RandomCheckpoint.EnsureWritten(dir, layers);
        double smallPagesGbs = 0;
        double gbs = bandwidthGbs ?? MeasureReadBandwidth(out smallPagesGbs);
        Console.WriteLine($"machine: {Environment.ProcessorCount} threads, load average {LoadAverage()}, read bandwidth {gbs:F1} GB/s" +
                          (bandwidthGbs is null ? $" (measured on the weights' pages; 4 KiB pages: {smallPagesGbs:F1})" : ""));
        Console.WriteLine($"model: {dir}; {(quantize is null ? "weights as stored" : quantize.Describe() + ", quantized while loading")}; " +
                          $"quantized products: {(Compute.QuantizedInference.ExactDequant ? "exact F32 codes" : "int8 dot products")}");
        var rng = new Rng(1);
        int vocab = LlamaRuntime.ReadConfig(dir).VocabSize;
        int[] prompt = Enumerable.Range(0, promptTokens).Select(_ => rng.NextInt(vocab)).ToArray();
        var options = new SamplingOptions { MaxNewTokens = decodeTokens + 1, StopTokenIds = [] };
        foreach (var mode in modes)
        {
            bool peakReset = PeakRss.Reset();
            var load = Stopwatch.StartNew();
            using var llama = LlamaRuntime.Load(dir, device, mode, contextLength: promptTokens + decodeTokens + 8, quantize: quantize);
            double loadSeconds = load.Elapsed.TotalSeconds;
            long loadPeak = PeakRss.Bytes();
            long bytes = llama.Model.WeightBytes;
            // warm-up: JIT, page faults of mapped weights, thread pool. Twice the timed run itself (its prompt length takes
            // the prefill's own code paths) with 40 decode steps: methods reach tier-1 code after 30 calls, and their
            // recompilation on a background thread otherwise lands in the timed steps (100+ ms spikes at 2 cores: one
            // pass left the timed decode of the Q4_0 file at 39–52 tok/s against steps of 17.4 ms); llama-bench warms up too.
            for (int w = 0; w < 2; w++)
                foreach (var _ in llama.Generate(prompt, options with { MaxNewTokens = Math.Max(40, decodeTokens + 1) })) { }
            // The timed runs: the best prefill and the best decode of them (each run is under a second, so one slow moment of
            // a shared host can halve a single run; llama-bench in scripts/bench-vs-llamacpp.sh gets the same number of runs).
            var timed = new List<GenerationStats>();
            for (int r = 0; r < runs; r++)
            {
                foreach (var _ in llama.Generate(prompt, options)) { }
                timed.Add(llama.LastStats!);
            }
            var s = timed.MaxBy(t => t.DecodeTokensPerSecond)!;
            double prefillTokS = timed.Max(t => t.PrefillTokensPerSecond);
            var (stepMs, sweepMs, sweepShare) = InterleavedStepVsSweep(llama, prompt, 12);
            double roofline = gbs * 1e9 / bytes;
            if (runs > 1)
                Console.WriteLine($"        {runs} timed runs, decode tok/s {string.Join(", ", timed.Select(t => t.DecodeTokensPerSecond.ToString("F2")))}, " +
                                  $"prefill tok/s {string.Join(", ", timed.Select(t => t.PrefillTokensPerSecond.ToString("F1")))}: the best of each below");
            Console.WriteLine($"{mode,-7} load {loadSeconds:F1} s | prefill {s.PromptTokens} tok: {prefillTokS:F1} tok/s | " +
                              $"decode {s.DecodeSteps} tok: {s.DecodeTokensPerSecond:F2} tok/s = {s.DecodeTokensPerSecond / roofline:P0} of roofline " +
                              $"{roofline:F1} tok/s ({bytes / 1e9:F2} GB/token, {s.DecodeTokensPerSecond * bytes / 1e9:F1} GB/s) | peak RSS {s.PeakWorkingSetBytes / 1048576.0:F0} MiB");
            Console.WriteLine($"        peak RSS {(peakReset ? "" : "(since process start) ")}while loading {loadPeak / 1048576.0:F0} MiB, after generating {PeakRss.Bytes() / 1048576.0:F0} MiB; weights {bytes / 1048576.0:F0} MiB");
            Console.WriteLine($"        interleaved medians: decode step {stepMs:F1} ms vs GEMV sweep over the same weights {sweepMs:F1} ms " +
                              $"(step = {stepMs / sweepMs:P0} of the bare weight stream; the rest is norms, RoPE, attention, sampling, allocation); " +
                              $"sweep {bytes / sweepMs / 1e6:F1} GB/s = {bytes / sweepMs / 1e6 / gbs:P0} of the read bandwidth" +
                              (double.IsNaN(sweepShare) ? "" : $", {sweepShare:P0} of a bare huge-page read interleaved with it (median of rounds)"));
        }
        Console.WriteLine($"load average after: {LoadAverage()}");
        return 0;
    }

    // Alternates one decode forward with one bare pass of every projection over one activation row (the
    // bandwidth floor of a step: MatMul for dense weights, QuantizedMatMul for packed ones, through the
    // model's backend, so it measures the same kernels on any device), so machine load hits both alike;
    // returns the medians in ms.
    private static (double StepMs, double SweepMs, double SweepShareOfRead) InterleavedStepVsSweep(LlamaRuntime llama, int[] prompt, int rounds)
    {
        // On the CPU each round also reads 512 MiB of huge-page memory: the sweep's GB/s over that read's GB/s, per round
        // (milliseconds apart, so the host's bandwidth swings hit both), is the sweep's share of the bandwidth it could have.
        using var probe = llama.Model.Device == Device.Cpu ? new Roofline.ReadProbe(512L << 20, SimdThreading.MaxThreads) : null;
        var shares = new List<double>();
        var model = llama.Model;
        var linears = model.NamedLinears().Select(l => l.Linear).ToList();
        var backend = Compute.Backends.Get(model.Device);
        var rows = new Dictionary<(int N, int K), (Tensor X, Tensor Y)>();
        foreach (var l in linears)
            if (!rows.ContainsKey((l.OutFeatures, l.InFeatures)))
                rows[(l.OutFeatures, l.InFeatures)] = (Tensor.Full(new Shape(1, l.InFeatures), 0.01f, DType.F32, backend.Device), Tensor.Empty(new Shape(1, l.OutFeatures), DType.F32, backend.Device));
        using var cache = model.CreateCache(prompt.Length + rounds + 1);
        using (model.Forward([prompt], [cache])) { }
        var steps = new List<double>();
        var sweeps = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            var clock = Stopwatch.StartNew();
            using (var logits = model.Forward([[prompt[r % prompt.Length]]], [cache])) logits.ToFloatArray();
            steps.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            foreach (var l in linears)
            {
                var (x, y) = rows[(l.OutFeatures, l.InFeatures)];
                if (l is QuantLinear q) { using (GradMode.NoGrad()) q.Forward(x).Dispose(); }   // the path inference takes (fast or exact)
                else backend.MatMul(x, l.DenseWeight(), y, transA: false, transB: true, accumulate: false);
            }
            backend.Synchronize();
            sweeps.Add(clock.Elapsed.TotalMilliseconds);
            if (probe != null) shares.Add(model.WeightBytes / (sweeps[^1] * 1e6) / probe.ReadGBps());
        }
        foreach (var (x, y) in rows.Values) { x.Dispose(); y.Dispose(); }
        steps.Sort(); sweeps.Sort(); shares.Sort();
        return (steps[rounds / 2], sweeps[rounds / 2], shares.Count > 0 ? shares[shares.Count / 2] : double.NaN);
    }

    internal static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "?"; }
    }


    // A 1 GiB read with all threads, best of three passes, on the pages the weights get (huge pages) and on 4 KiB pages:
    // the read bandwidth decode can use, and what a process without huge pages gets.
    private static double MeasureReadBandwidth(out double smallPagesGbs)
    {
        int threads = SimdThreading.MaxThreads;
        smallPagesGbs = Roofline.MeasureBandwidth(threads, 1L << 30, passes: 3, hugePages: false, copy: false).ReadGBps;
        return Roofline.MeasureBandwidth(threads, 1L << 30, passes: 3, copy: false).ReadGBps;
    }
}
