using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using PureLlama.Cli.Bench;
using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama bench-blocks</c> (hidden): the weight products of one decode step of a Llama-3.2-1B-shaped model
/// (16 layers of q, k, v, o, gate, up, down and the 128256-row output matrix) in the GGUF file types llama.cpp
/// makes — Q8_0, Q4_0 (output Q6_K), Q4_K_M (Q4_K; attn_v and ffn_down Q6_K in llama-quantize's layers; output
/// Q6_K) — on random block bytes, through the int8 dot-product path and the exact dequantizing path, alternated
/// step by step so machine load hits both alike. Attention, norms and the embedding gather are not included.
/// <c>--in-cache</c> instead times one small weight per block type (256 × 2048, resident in L2) over and over: the kernels'
/// compute rate in GGUF bytes per second, to set against the memory bandwidth (a kernel slower than memory is compute-bound).
/// </summary>
internal static class BenchBlocksCommand
{
    private const int Hidden = 2048, Kv = 512, Ffn = 8192, Vocab = 128256, Layers = 16;

    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "decode steps per path and file type", DefaultValueFactory = _ => 8 };
        var exact = new Option<bool>("--exact") { Description = "also time the exact dequantizing path (slow)" };
        var bf16 = new Option<bool>("--bf16") { Description = "also time the same products with dense BF16 weights (the baseline of docs/perf.md)" };
        var types = new Option<string[]>("--types") { Description = "q8_0 q4_0 q4_k_m (default: all three); --sweep also takes int4 (INT4 g128, Q6_K output) and nf4", AllowMultipleArgumentsPerToken = true };
        var inCache = new Option<bool>("--in-cache") { Description = "time one L2-resident 256 × 2048 weight per block type (Q8_0, Q4_0, Q4_K, Q6_K) instead: the kernels' compute rate" };
        var sweep = new Option<bool>("--sweep") { Description = "time the step's m = 1 products straight over the tiles against a bare read of the same bytes, then each type's one-thread in-cache rate" };
        var command = new Command("bench-blocks", "Decode-step weight products of a 1B-shaped model in GGUF block formats (int8 dots vs exact).") { steps, types, bf16, exact, inCache, sweep };
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            var fileTypes = parse.GetValue(types) is { Length: > 0 } t ? t : ["q8_0", "q4_0", "q4_k_m"];
            if (parse.GetValue(steps) < 1) throw new ArgumentException("--steps must be at least 1.");
            if (parse.GetValue(sweep)) return BenchBlocksSweep.Run(parse.GetValue(steps), fileTypes);
            return parse.GetValue(inCache) ? InCache(parse.GetValue(steps)) : Run(parse.GetValue(steps), fileTypes, parse.GetValue(bf16), parse.GetValue(exact));
        }));
        return command;
    }

    // Each block type's product with one x row, 256 × 2048 weight (≤ 0.6 MB of tiles: stays in L2), interleaved by rounds:
    // the tiled kernel called directly, and the same product through Ops.QuantLinear (output tensor, dispatch, threads).
    private static unsafe int InCache(int steps)
    {
        if (steps < 1) throw new ArgumentException("--steps must be at least 1.");
        Console.WriteLine($"bench-blocks --in-cache: {Environment.ProcessorCount} threads, load average {BenchReport.LoadAverage()}");
        const int Rows = 256, Calls = 2000, Batch = 16;
        GgmlType[] kinds = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];
        var rng = new Random(11);
        var bytes = kinds.Select(k => RandomBlocks(rng, k, Rows, Hidden)).ToList();
        var names = kinds.Select(k => k.ToString()).ToList();
        var weights = kinds.Select((k, i) => new GgmlBlockTensor(k, new Shape(Rows, Hidden), Tensor.FromArray(bytes[i], new Shape(bytes[i].Length)))).ToList();
        var pins = bytes.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToList();
        var views = kinds.Select((k, i) => new BlockMatrix(Rows, Hidden, (byte*)pins[i].AddrOfPinnedObject(), BlockFormats.BlockValues(k), BlockFormats.BlockBytes(k))).ToList();
        var tiles = kinds.Select((k, i) => BlockTileRepack.From(k, views[i])!).ToList();
        // Q8_0 in quant-int8's tiles too (Int8TiledMatmul, F32 scales), for comparison.
        names.Add("Q8_0 (quant-int8 tiles)");
        bytes.Add(bytes[0]);
        weights.Add(weights[0]);
        tiles.Add(BlockTileRepack.FromQ8_0(views[0])!);
        var xs = new float[Batch * Hidden];
        var ys = new float[Batch * Rows];
        var xr = new Random(5);
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)(2 * xr.NextDouble() - 1);
        using var x = Tensor.FromArray(xs[..Hidden], new Shape(1, Hidden));
        var kernel = names.Select(_ => new List<double>()).ToList();
        var kernelCpu = names.Select(_ => new List<double>()).ToList();
        var linear = names.Select(_ => new List<double>()).ToList();
        var batchCpu = names.Select(_ => new List<double>()).ToList();
        using var process = Process.GetCurrentProcess();
        try
        {
            using var noGrad = GradMode.NoGrad();
            fixed (float* px = xs, py = ys)
                for (int round = 0; round <= steps; round++)
                    for (int k = 0; k < names.Count; k++)
                    {
                        process.Refresh();
                        var cpu0 = process.TotalProcessorTime;
                        var sw = Stopwatch.StartNew();
                        for (int i = 0; i < Calls; i++)
                        {
                            if (tiles[k] is Int8TiledWeights q8) Int8TiledMatmul.Run(q8, 1, px, Hidden, py, Rows, false);
                            else BlockTiledMatmul.Run((BlockTiles)tiles[k], 1, px, Hidden, py, Rows, false);
                        }
                        double direct = sw.Elapsed.TotalSeconds / Calls;
                        process.Refresh();
                        double directCpu = (process.TotalProcessorTime - cpu0).TotalSeconds / Calls;
                        cpu0 = process.TotalProcessorTime;
                        for (int i = 0; i < Calls / Batch; i++)
                        {
                            if (tiles[k] is Int8TiledWeights q8) Int8TiledMatmul.Run(q8, Batch, px, Hidden, py, Rows, false);
                            else BlockTiledMatmul.Run((BlockTiles)tiles[k], Batch, px, Hidden, py, Rows, false);
                        }
                        process.Refresh();
                        double rowCpu = (process.TotalProcessorTime - cpu0).TotalSeconds / (Calls / Batch * Batch);
                        sw.Restart();
                        bool viaOps = k < kinds.Length;   // the comparison row has no Ops path of its own
                        for (int i = 0; i < (viaOps ? Calls : 0); i++)
                        {
                            using var y = Ops.QuantLinear(x, weights[k]);
                        }
                        if (round == 0) continue;   // round 0 warms up (and repacks)
                        kernel[k].Add(direct);
                        kernelCpu[k].Add(directCpu);
                        batchCpu[k].Add(rowCpu);
                        if (viaOps) linear[k].Add(sw.Elapsed.TotalSeconds / Calls);
                    }
            // CPU time counts only the time the process ran (robust to other tenants); it includes every thread of the process.
            Console.WriteLine($"type | GGUF KB | kernel µs/product | GGUF GB/s | kernel CPU µs/product | GGUF GB per CPU-s | Ops.QuantLinear µs/product | m = {Batch}: CPU µs per x row");
            for (int k = 0; k < names.Count; k++)
            {
                double s = Median(kernel[k]), c = Median(kernelCpu[k]);
                Console.WriteLine($"{names[k]} | {bytes[k].Length / 1e3:F0} | {s * 1e6:F1} | {bytes[k].Length / s / 1e9:F1} | {c * 1e6:F1} | {bytes[k].Length / c / 1e9:F1} | {(linear[k].Count > 0 ? (Median(linear[k]) * 1e6).ToString("F1") : "-")} | {Median(batchCpu[k]) * 1e6:F2}");
            }
        }
        finally
        {
            foreach (var t in tiles) t.Dispose();
            foreach (var w in weights.Distinct()) w.Dispose();
            foreach (var p in pins) p.Free();
        }
        Console.WriteLine($"load average after: {BenchReport.LoadAverage()}");
        return 0;
    }

    private static int Run(int steps, string[] fileTypes, bool bf16, bool exact)
    {
        if (steps < 1) throw new ArgumentException("--steps must be at least 1.");
        Console.WriteLine($"bench-blocks: {Environment.ProcessorCount} threads, load average {BenchReport.LoadAverage()}, AVX-VNNI {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}");
        // Every variant takes one step in turn, so load changes hit all of them alike.
        var variants = new List<(string Name, double Megabytes, Func<double> Step, IDisposable Owner)>();
        using var xHidden = Tensor.RandU(new Shape(1, Hidden), new Rng(3), -1f, 1f);
        using var xFfn = Tensor.RandU(new Shape(1, Ffn), new Rng(4), -1f, 1f);
        try
        {
            if (bf16)
            {
                var dense = Bf16Weights();
                var owner = new Owner([.. dense]);
                variants.Add(("bf16 (dense)", dense.Sum(w => w.ByteLength) / 1e6, () => DenseStep(dense, xHidden, xFfn), owner));
            }
            foreach (var fileType in fileTypes)
            {
                var weights = Weights(fileType.ToLowerInvariant());
                var owner = new Owner([.. weights]);
                double mb = weights.Sum(w => w.ByteLength) / 1e6;
                variants.Add((fileType + " int8 dots", mb, () => Step(weights, xHidden, xFfn, exactPath: false), owner));
                if (exact) variants.Add((fileType + " exact", mb, () => Step(weights, xHidden, xFfn, exactPath: true), new Owner([])));
            }
            var times = variants.Select(_ => new List<double>()).ToList();
            var cpu = variants.Select(_ => new List<double>()).ToList();
            using var process = Process.GetCurrentProcess();
            for (int s = 0; s <= steps; s++)
                for (int v = 0; v < variants.Count; v++)
                {
                    process.Refresh();
                    var cpu0 = process.TotalProcessorTime;
                    double ms = variants[v].Step();
                    process.Refresh();
                    if (s == 0) continue;   // step 0 warms up (and repacks)
                    times[v].Add(ms);
                    cpu[v].Add((process.TotalProcessorTime - cpu0).TotalMilliseconds);
                }
            // CPU ms: the time the process's threads ran (all of them), less sensitive to other tenants than the wall clock.
            Console.WriteLine("weights | MB | median ms/step | tok/s (products only) | median CPU ms/step");
            for (int v = 0; v < variants.Count; v++)
            {
                double ms = Median(times[v]);
                Console.WriteLine($"{variants[v].Name} | {variants[v].Megabytes:F0} | {ms:F1} | {1000 / ms:F1} | {Median(cpu[v]):F1}");
            }
        }
        finally
        {
            foreach (var v in variants) v.Owner.Dispose();
        }
        Console.WriteLine($"load average after: {BenchReport.LoadAverage()}");
        return 0;
    }

    private sealed class Owner(IDisposable[] items) : IDisposable
    {
        public void Dispose() { foreach (var i in items) i.Dispose(); }
    }

    private static double Step(List<GgmlBlockTensor> weights, Tensor xHidden, Tensor xFfn, bool exactPath)
    {
        var sw = Stopwatch.StartNew();
        using var scope = QuantizedInference.Scope(exactDequant: exactPath);
        using var noGrad = GradMode.NoGrad();
        foreach (var w in weights)
        {
            using var y = Ops.QuantLinear(w.Columns == Hidden ? xHidden : xFfn, w);   // int8 dots unless exactPath
        }
        return sw.Elapsed.TotalMilliseconds;
    }

    // The same products with dense BF16 weights [out, in] (random values), through Ops.Linear.
    private static List<Tensor> Bf16Weights()
    {
        var shapes = new List<(int Rows, int Cols)>();
        for (int i = 0; i < Layers; i++) shapes.AddRange([(Hidden, Hidden), (Kv, Hidden), (Kv, Hidden), (Hidden, Hidden), (Ffn, Hidden), (Ffn, Hidden), (Hidden, Ffn)]);
        shapes.Add((Vocab, Hidden));
        return [.. shapes.Select((s, i) => Tensor.RandU(new Shape(s.Rows, s.Cols), new Rng((ulong)i), -0.1f, 0.1f, DType.BF16))];
    }

    private static double DenseStep(List<Tensor> weights, Tensor xHidden, Tensor xFfn)
    {
        var sw = Stopwatch.StartNew();
        using var noGrad = GradMode.NoGrad();
        foreach (var w in weights)
        {
            using var y = Ops.Linear(w.Shape[1] == Hidden ? xHidden : xFfn, w);
        }
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s[s.Length / 2];
    }

    // The projections of one decode step as llama-quantize types them (docs/perf.md, fixtures/gguf/README.md).
    private static List<GgmlBlockTensor> Weights(string fileType)
    {
        var rng = new Random(7);
        return [.. StepShapes(fileType).Select(w => Random(rng, w.Type, w.Rows, w.Cols))];
    }

    /// <summary>(type, rows, cols) of each weight product of one decode step of a file type, in the model's order.</summary>
    internal static List<(GgmlType Type, int Rows, int Cols)> StepShapes(string fileType)
    {
        var list = new List<(GgmlType, int, int)>();
        for (int i = 0; i < Layers; i++)
        {
            var (baseType, vType, downType) = fileType switch
            {
                "q8_0" => (GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0),
                "q4_0" => (GgmlType.Q4_0, GgmlType.Q4_0, GgmlType.Q4_0),
                "q4_k_m" => (GgmlType.Q4_K, MoreBits(i) ? GgmlType.Q6_K : GgmlType.Q4_K, MoreBits(i) ? GgmlType.Q6_K : GgmlType.Q4_K),
                _ => throw new ArgumentException($"--types takes q8_0, q4_0 and q4_k_m, not '{fileType}'."),
            };
            list.AddRange([(baseType, Hidden, Hidden), (baseType, Kv, Hidden), (vType, Kv, Hidden), (baseType, Hidden, Hidden),
                (baseType, Ffn, Hidden), (baseType, Ffn, Hidden), (downType, Hidden, Ffn)]);
        }
        list.Add((fileType == "q8_0" ? GgmlType.Q8_0 : GgmlType.Q6_K, Vocab, Hidden));
        return list;
    }

    // llama-quantize's Q4_K_M rule for attn_v / ffn_down: i < n/8 || i >= 7n/8 || (i − n/8) % 3 == 2.
    private static bool MoreBits(int i) => i < Layers / 8 || i >= 7 * Layers / 8 || (i - Layers / 8) % 3 == 2;

    // Random codes with small finite f16 scales (every f16 field of the block set to 0.01).
    private static GgmlBlockTensor Random(Random rng, GgmlType type, int rows, int cols)
    {
        var bytes = RandomBlocks(rng, type, rows, cols);
        return new GgmlBlockTensor(type, new Shape(rows, cols), Tensor.FromArray(bytes, new Shape(bytes.Length)));
    }

    internal static byte[] RandomBlocks(Random rng, GgmlType type, int rows, int cols)
    {
        int bb = BlockFormats.BlockBytes(type);
        var bytes = new byte[rows * BlockFormats.RowBytes(type, cols)];
        rng.NextBytes(bytes);
        ushort scale = BitConverter.HalfToUInt16Bits((Half)0.01f);
        int[] f16Fields = type switch { GgmlType.Q4_K => [0, 2], GgmlType.Q6_K => [208], _ => [0] };
        for (long b = 0; b < bytes.Length; b += bb)
            foreach (int f in f16Fields) { bytes[b + f] = (byte)scale; bytes[b + f + 1] = (byte)(scale >> 8); }
        return bytes;
    }
}
