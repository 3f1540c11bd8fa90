using System.CommandLine;
using System.Diagnostics;
using PureLlama.Llama;
using PureLlama.Serving;
using PureLlama.Tensors;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama bench-serve</c> (hidden): the serving engine on the Llama-3.2-1B shape (random BF16 weights, as
/// bench-decode; optionally NF4 while loading): for each number of concurrent streams, that many greedy requests
/// of --prompt random tokens and --new new tokens at once: aggregate output tokens/s, time to first token and
/// inter-token latency (p50/p99), peak KV memory against the tokens held; then a repeated --system-prompt
/// cold vs served from the prefix cache (time to first token).
/// </summary>
internal static class BenchServeCommand
{
    public static Command Create()
    {
        var dir = new Option<string>("--dir") { Description = "folder of the random checkpoint (created when missing)", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "purellama-random-1b") };
        var model = new Option<string?>("--model") { Description = "serve this model folder instead of the random 1B-shaped one" };
        var layers = new Option<int>("--layers") { Description = "decoder layers of the random model (16 for the 1B shape)", DefaultValueFactory = _ => 16 };
        var formats = new Option<string>("--formats") { Description = "comma-separated weight formats: bf16 (as stored), nf4, int8 (quantized while loading)", DefaultValueFactory = _ => "bf16,nf4" };
        var streams = new Option<string>("--streams") { Description = "comma-separated concurrent stream counts", DefaultValueFactory = _ => "1,4,8,16" };
        var prompt = new Option<int>("--prompt") { Description = "prompt tokens per stream", DefaultValueFactory = _ => 128 };
        var newTokens = new Option<int>("--new") { Description = "new tokens per stream", DefaultValueFactory = _ => 128 };
        var system = new Option<int>("--system-prompt") { Description = "tokens of the repeated system prompt for the prefix-cache run (0: skip)", DefaultValueFactory = _ => 1024 };
        var kv = new Option<string>("--kv-cache") { Description = "f32 | bf16 | int8", DefaultValueFactory = _ => "bf16" };
        var kvMemory = new Option<int>("--kv-memory-mib") { Description = "KV pool size in MiB", DefaultValueFactory = _ => 1024 };
        var maxBatch = new Option<int>("--max-batch-tokens") { Description = "tokens per step at most (prefill chunking)", DefaultValueFactory = _ => 512 };
        var command = new Command("bench-serve", "Throughput and latency of the serving engine (continuous batching over the paged KV cache) on a Llama-3.2-1B-shaped model.")
        {
            dir, model, layers, formats, streams, prompt, newTokens, system, kv, kvMemory, maxBatch,
        };
        command.SetAction(parse => ModelCliOptions.Guard(() => Run(parse.GetValue(model) ?? parse.GetValue(dir)!, parse.GetValue(model) is null, parse.GetValue(layers),
            parse.GetValue(formats)!, parse.GetValue(streams)!, parse.GetValue(prompt), parse.GetValue(newTokens), parse.GetValue(system),
            parse.GetValue(kv)!, parse.GetValue(kvMemory), parse.GetValue(maxBatch))));
        return command;
    }

    private static int Run(string dir, bool random, int layers, string formats, string streams, int prompt, int newTokens, int system,
        string kv, int kvMemoryMib, int maxBatch)
    {
        if (prompt < 1 || newTokens < 1 || system < 0 || kvMemoryMib < 1) throw new ArgumentException("--prompt, --new and --kv-memory-mib must be at least 1, --system-prompt at least 0.");
        var counts = streams.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
            int.TryParse(s, out int n) && n >= 1 ? n : throw new ArgumentException($"--streams: '{s}' is not a positive count.")).ToArray();
        var kvType = kv.ToLowerInvariant() switch
        {
            "f32" => KvCacheType.F32, "bf16" => KvCacheType.BF16, "int8" => KvCacheType.Int8,
            _ => throw new ArgumentException($"--kv-cache must be f32, bf16 or int8, not '{kv}'."),
        };
        if (random) RandomCheckpoint.EnsureWritten(dir, layers);
        Console.WriteLine($"machine: {Environment.ProcessorCount} threads, load average {BenchDecodeCommand.LoadAverage()}; model {dir}; KV {kvType}, pool {kvMemoryMib} MiB, max batch tokens {maxBatch}");
        foreach (var format in formats.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var quantize = format.Equals("bf16", StringComparison.OrdinalIgnoreCase) ? null : ModelCliOptions.QuantizeOption(format);
            int context = Math.Max(prompt + newTokens, system + 32 + 8) + 8;
            using var runtime = LlamaRuntime.Load(dir, contextLength: context, quantize: quantize);
            var options = new ServingOptions
            {
                KvMemoryBytes = (long)kvMemoryMib << 20, KvCacheType = kvType, MaxBatchTokens = Math.Max(maxBatch, counts.Max()),
                MaxRunningSequences = Math.Max(32, counts.Max()), PrefixCaching = false,
            };
            int vocab = runtime.Model.VocabSize;
            Console.WriteLine($"{format}: weights {runtime.Model.WeightBytes / 1e9:F2} GB");
            using (var warm = ServingEngine.Start(runtime, options)) Drain(warm, [Prompt(new Rng(99), 16, vocab)], 4);
            double single = 0;
            foreach (int s in counts)
            {
                using var engine = ServingEngine.Start(runtime, options);
                var rng = new Rng((ulong)(1000 + s));
                var prompts = Enumerable.Range(0, s).Select(_ => Prompt(rng, prompt, vocab)).ToArray();
                var r = Drain(engine, prompts, newTokens);
                if (s == counts[0]) single = r.DecodeTokensPerSecond;
                long bound = (long)s * ((prompt + newTokens + options.BlockSize - 1) / options.BlockSize) * engine.Metrics.KvBytesPerBlock;
                Console.WriteLine($"  {s,2} streams: {r.TokensPerSecond,7:F2} tok/s aggregate, decode {r.DecodeTokensPerSecond:F2} tok/s ({r.DecodeTokensPerSecond / Math.Max(1e-9, single):F1}× the {counts[0]}-stream decode) | " +
                    $"TTFT p50 {r.Ttft.P50:F2} s p99 {r.Ttft.P99:F2} s | ITL p50 {r.Itl.P50 * 1000:F0} ms p99 {r.Itl.P99 * 1000:F0} ms | " +
                    $"KV peak {r.PeakKvBytes / 1048576.0:F1} MiB (tokens held need ≤ {bound / 1048576.0:F1} MiB) | load {BenchDecodeCommand.LoadAverage()}");
            }
            if (system > 0)
            {
                using var engine = ServingEngine.Start(runtime, options with { PrefixCaching = true });
                var rng = new Rng(7);
                var shared = Prompt(rng, system, vocab);
                int[] Ask() => [.. shared, .. Prompt(rng, 16, vocab)[1..]];
                var cold = Drain(engine, [Ask()], 1);
                var warmRun = Drain(engine, [Ask()], 1);
                Console.WriteLine($"  prefix cache, {system}-token system prompt: TTFT cold {cold.Ttft.P50:F3} s, cached {warmRun.Ttft.P50:F3} s " +
                    $"({cold.Ttft.P50 / warmRun.Ttft.P50:F1}× lower; {engine.Metrics.PrefixCacheHitTokens} tokens from the cache) | load {BenchDecodeCommand.LoadAverage()}");
            }
        }
        return 0;
    }

    private static int[] Prompt(Rng rng, int length, int vocab)
    {
        var p = new int[length];
        for (int i = 0; i < length; i++) p[i] = rng.NextInt(vocab);
        return p;
    }

    private readonly record struct Percentiles(double P50, double P99);
    private readonly record struct RunResult(double TokensPerSecond, double DecodeTokensPerSecond, Percentiles Ttft, Percentiles Itl, long PeakKvBytes);

    // Submits every prompt at once and drains the streams; the KV peak is sampled from the metrics meanwhile.
    private static RunResult Drain(ServingEngine engine, int[][] prompts, int newTokens)
    {
        var sampling = new SamplingOptions { MaxNewTokens = newTokens, StopTokenIds = [] };
        var clock = Stopwatch.StartNew();
        long peakBlocks = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peakBlocks = Math.Max(peakBlocks, engine.Metrics.KvBlocksUsed);
                try { await Task.Delay(20, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        var runs = prompts.Select(p => Task.Run(async () =>
        {
            var times = new List<double>();
            double start = clock.Elapsed.TotalSeconds;
            await foreach (var _ in engine.Generate(new EngineRequest(p, sampling))) times.Add(clock.Elapsed.TotalSeconds);
            return (Start: start, Times: times);
        })).ToArray();
        Task.WaitAll(runs);
        double elapsed = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        sampler.Wait();
        var ttft = runs.Select(r => r.Result.Times[0] - r.Result.Start).ToList();
        var itl = runs.SelectMany(r => r.Result.Times.Zip(r.Result.Times.Skip(1), (a, b) => b - a)).ToList();
        int total = runs.Sum(r => r.Result.Times.Count);
        // Decode rate: tokens after each stream's first, over the time from the last first token to the end.
        double lastFirst = runs.Max(r => r.Result.Times[0]), decodeSpan = runs.Max(r => r.Result.Times[^1]) - lastFirst;
        double decode = decodeSpan > 0 ? (total - runs.Length) / decodeSpan : 0;
        return new RunResult(total / elapsed, decode, Of(ttft), itl.Count > 0 ? Of(itl) : new(0, 0), peakBlocks * engine.Metrics.KvBytesPerBlock);
    }

    private static Percentiles Of(List<double> values)
    {
        values.Sort();
        double At(double q) => values[Math.Min(values.Count - 1, (int)Math.Ceiling(q * values.Count) - 1)];
        return new(At(0.5), At(0.99));
    }
}
