using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using PureLlama.Cli.Bench;
using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>bench-blocks --sweep</c>: the m = 1 products of one decode step straight over the weights' tiles (BlockTiledMatmul,
/// no tensors or dispatch) against a bare read of the same tile bytes with the same split across threads, interleaved
/// step by step: the products' read bandwidth next to what a plain streaming read reaches in the same process.
/// Then each tile type's one-thread rate on an L2-resident weight (compute rate, tile bytes per CPU second).
/// </summary>
internal static unsafe class BenchBlocksSweep
{
    private const int Hidden = 2048;

    public static int Run(int steps, string[] fileTypes)
    {
        Console.WriteLine($"bench-blocks --sweep: {SimdThreading.MaxThreads} threads, load average {BenchReport.LoadAverage()}");
        Sweep(steps, [.. fileTypes.Select(t => t.ToLowerInvariant()).Distinct()]);
        InCacheOneThread(steps);
        Console.WriteLine($"load average after: {BenchReport.LoadAverage()}");
        return 0;
    }

    // Every file type's products and bare read take one step in turn, so load changes hit all of them alike.
    private static void Sweep(int steps, string[] fileTypes)
    {
        var rng = new Random(7);
        var weights = fileTypes.Select(_ => new List<SweepWeight>()).ToList();
        try
        {
            for (int f = 0; f < fileTypes.Length; f++) weights[f].AddRange(StepWeights(rng, fileTypes[f]));
            var xs = new float[8192];
            var ys = new float[weights.Max(l => l.Max(t => t.Rows))];
            var ys3 = new float[3 * ys.Length];
            for (int i = 0; i < xs.Length; i++) xs[i] = (float)(2 * rng.NextDouble() - 1);
            var variants = new List<(string FileType, string Name, double Gb, Action Step)>();
            foreach (var (fileType, list) in fileTypes.Zip(weights))
            {
                double gb = list.Sum(t => t.ByteLength) / 1e9;
                variants.Add((fileType, "products", gb, () => { fixed (float* px = xs, py = ys) foreach (var t in list) t.Product(px, py); }));
                variants.Add((fileType, "products, q/k/v and gate/up under one fork", gb, () => Grouped(list, xs, ys3)));
                variants.Add((fileType, "bare read", gb, () => { foreach (var t in list) t.Read(); }));
            }
            var times = variants.Select(_ => new List<double>()).ToList();
            for (int s = 0; s <= steps; s++)
                for (int v = 0; v < variants.Count; v++)
                {
                    var sw = Stopwatch.StartNew();
                    variants[v].Step();
                    if (s > 0) times[v].Add(sw.Elapsed.TotalMilliseconds);
                }
            Console.WriteLine("file type | GB of tiles | variant | median ms/step | GB/s | best ms/step | GB/s");
            for (int v = 0; v < variants.Count; v++)
            {
                var (fileType, name, gb, _) = variants[v];
                double ms = Median(times[v]), best = times[v].Min();
                Console.WriteLine($"{fileType} | {gb:F3} | {name} | {ms:F2} | {gb / ms * 1e3:F1} | {best:F2} | {gb / best * 1e3:F1}");
            }
        }
        finally
        {
            foreach (var t in weights.SelectMany(l => l)) t.Dispose();
        }
    }

    // The step's weights: GGUF file types as BlockTiles (StepShapes), or the int8 tiles of PureLlama's own formats with the
    // same shapes: int4 (INT4 g128 body, Q6_K output matrix as llama-quantize makes it) and nf4 (NF4 body and output).
    private static IEnumerable<SweepWeight> StepWeights(Random rng, string fileType)
    {
        if (fileType is not ("int4" or "nf4"))
        {
            foreach (var (type, rows, cols) in BenchBlocksCommand.StepShapes(fileType)) yield return new BlockSweep(Tiles(rng, type, rows, cols));
            yield break;
        }
        var codes = fileType == "int4" ? TiledCodes.Int4 : TiledCodes.Nf4;
        var shapes = BenchBlocksCommand.StepShapes("q4_0");
        for (int i = 0; i < shapes.Count - 1; i++) yield return new Int8Sweep(RandomTiles(rng, codes, shapes[i].Rows, shapes[i].Cols));
        var (_, headRows, headCols) = shapes[^1];
        yield return codes == TiledCodes.Int4 ? new BlockSweep(Tiles(rng, GgmlType.Q6_K, headRows, headCols)) : new Int8Sweep(RandomTiles(rng, codes, headRows, headCols));
    }

    // A layer's products as a model can run them (StepShapes order q, k, v, o, gate, up, down, then the output matrix):
    // q/k/v and gate/up each under one fork (RunMany), the others alone.
    private static void Grouped(List<SweepWeight> list, float[] xs, float[] ys)
    {
        int stride = ys.Length / 3;
        fixed (float* px = xs, py = ys)
            for (int i = 0; i < list.Count;)
            {
                int size = i == list.Count - 1 ? 1 : (i % 7) switch { 0 => 3, 4 => 2, _ => 1 };
                if (list[i] is BlockSweep)
                {
                    var group = new TiledProduct[size];
                    for (int k = 0; k < size; k++) group[k] = ((BlockSweep)list[i + k]).AsProduct(px, py + k * stride);
                    BlockTiledMatmul.RunMany(group, 1);
                }
                else
                {
                    var group = new Int8TiledProduct[size];
                    for (int k = 0; k < size; k++) group[k] = ((Int8Sweep)list[i + k]).AsProduct(px, py + k * stride);
                    Int8TiledMatmul.RunMany(group, 1);
                }
                i += size;
            }
    }

    private static BlockTiles Tiles(Random rng, GgmlType type, int rows, int cols)
    {
        var bytes = BenchBlocksCommand.RandomBlocks(rng, type, rows, cols);
        fixed (byte* p = bytes)
            return BlockTiles.From(type, new BlockMatrix(rows, cols, p, BlockFormats.BlockValues(type), BlockFormats.BlockBytes(type)));
    }

    // Random codes, every scale 0.01, INT4 zero points 8, NF4 levels spread over [−64, 64]; g128 for INT4, 64-blocks for NF4,
    // one block per row for INT8 (its codes in [−127, 127]).
    private static Int8TiledWeights RandomTiles(Random rng, TiledCodes codes, int rows, int cols)
    {
        sbyte[]? levels = codes == TiledCodes.Nf4 ? [.. Enumerable.Range(0, 16).Select(i => (sbyte)(i * 128 / 15 - 64))] : null;
        int blockCols = codes switch { TiledCodes.Int4 => 128, TiledCodes.Nf4 => 64, _ => (cols + 31) / 32 * 32 };
        var w = new Int8TiledWeights(codes, rows, cols, blockCols, permuted: false, levels);
        var data = new Span<byte>(w.Data, checked((int)(w.TileBytes * w.Tiles)));
        rng.NextBytes(data);
        if (codes == TiledCodes.Int8) data.Replace((byte)0x80, (byte)0x81);   // −128 never occurs in INT8 codes
        for (int t = 0; t < w.Tiles; t++)
            for (int wb = 0; wb < w.WeightBlocks; wb++)
                for (int lane = 0; lane < Int8TiledWeights.TileRows; lane++)
                {
                    w.TrySetScale(t, wb, lane, 0.01f);
                    if (codes == TiledCodes.Int4) w.TileZeros(t, wb)[lane] = 8;
                }
        return w;
    }

    /// <summary>One weight of the sweep: its m = 1 product and a bare read of its bytes, split across threads as the product splits.</summary>
    private abstract class SweepWeight : IDisposable
    {
        public abstract int Rows { get; }
        public abstract long ByteLength { get; }
        public abstract void Product(float* x, float* y);
        public abstract void Read();
        public abstract void Dispose();
    }

    private sealed class BlockSweep(BlockTiles t) : SweepWeight
    {
        public override int Rows => t.Rows;
        public override long ByteLength => t.ByteLength;
        public TiledProduct AsProduct(float* x, float* y) => new(t, x, t.Cols, y, t.Rows, false);
        public override void Product(float* x, float* y) => BlockTiledMatmul.Run(t, 1, x, t.Cols, y, t.Rows, false);
        public override void Dispose() => t.Dispose();

        // Every byte of the tiles (codes, sub-scales, super-scales).
        public override void Read() => ReadStreams(t.Tiles, 16L * t.Cols,
            [((nint)t.Data, t.TileBytes), ((nint)t.Sub, t.SubBytesPerTile), ((nint)t.Super, 32L * t.ScalesPerSuper * t.SuperBlocks)]);
    }

    private sealed class Int8Sweep(Int8TiledWeights w) : SweepWeight
    {
        public override int Rows => w.Rows;
        public override long ByteLength => w.ByteLength;
        public Int8TiledProduct AsProduct(float* x, float* y) => new(w, x, w.Cols, y, w.Rows, false);
        public override void Product(float* x, float* y) => Int8TiledMatmul.Run(w, 1, x, w.Cols, y, w.Rows, false);
        public override void Dispose() => w.Dispose();

        // Codes, F16 scales and INT4 zero points.
        public override void Read()
        {
            long scalesPerTile = 2L * w.WeightBlocks * Int8TiledWeights.TileRows;
            ReadStreams(w.Tiles, 16L * w.PaddedCols, [((nint)w.Data, w.TileBytes), ((nint)w.Scales, scalesPerTile), ((nint)w.Zeros, w.Zeros == null ? 0 : scalesPerTile / 2)]);
        }
    }

    private static readonly long[] Sink = new long[64];

    // Streams laid out [tile, bytes per tile] (a null base or 0 bytes per tile: absent), read once with 64-byte loads, the tiles
    // split across threads as the products split them.
    private static void ReadStreams(int tiles, long workPerTile, (nint Base, long PerTile)[] streams) =>
        ParallelWork.Rows(tiles, workPerTile, (t0, t1) =>
        {
            Vector512<byte> acc = default;
            foreach (var (b, per) in streams)
                if (b != 0 && per > 0) acc = Xor((byte*)b + t0 * per, (t1 - t0) * per, acc);
            Sink[(t0 & 7) * 8] += acc.AsInt64().ToScalar();
        });

    private static Vector512<byte> Xor(byte* p, long n, Vector512<byte> acc)
    {
        Vector512<byte> a1 = default, a2 = default, a3 = default;
        long i = 0;
        for (; i + 256 <= n; i += 256)
        {
            acc ^= Vector512.Load(p + i);
            a1 ^= Vector512.Load(p + i + 64);
            a2 ^= Vector512.Load(p + i + 128);
            a3 ^= Vector512.Load(p + i + 192);
        }
        for (; i < n; i++) acc ^= Vector512.CreateScalar(p[i]);
        return acc ^ a1 ^ a2 ^ a3;
    }

    // One L2-resident weight per tile type (384 × 2048), products on this thread only: tile bytes per CPU second.
    private static void InCacheOneThread(int steps)
    {
        const int Rows = 384, Calls = 400;
        var rng = new Random(11);
        var kinds = new List<(string Name, SweepWeight Weight)>();
        foreach (var k in new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K }) kinds.Add((k.ToString(), new BlockSweep(Tiles(rng, k, Rows, Hidden))));
        kinds.Add(("INT4 g128", new Int8Sweep(RandomTiles(rng, TiledCodes.Int4, Rows, Hidden))));
        kinds.Add(("NF4", new Int8Sweep(RandomTiles(rng, TiledCodes.Nf4, Rows, Hidden))));
        kinds.Add(("INT8", new Int8Sweep(RandomTiles(rng, TiledCodes.Int8, Rows, Hidden))));
        var xs = new float[Hidden];
        var ys = new float[Rows];
        for (int i = 0; i < xs.Length; i++) xs[i] = (float)(2 * rng.NextDouble() - 1);
        var rates = kinds.Select(_ => new List<double>()).ToList();
        int threads = SimdThreading.MaxThreads;
        SimdThreading.MaxThreads = 1;
        try
        {
            fixed (float* px = xs, py = ys)
                for (int round = 0; round <= steps; round++)
                    for (int k = 0; k < kinds.Count; k++)
                    {
                        double cpu0 = ThreadCpuSeconds();
                        for (int i = 0; i < Calls; i++) kinds[k].Weight.Product(px, py);
                        double s = ThreadCpuSeconds() - cpu0;
                        if (round > 0) rates[k].Add(kinds[k].Weight.ByteLength * (double)Calls / s / 1e9);
                    }
        }
        finally
        {
            SimdThreading.MaxThreads = threads;
            foreach (var k in kinds) k.Weight.Dispose();
        }
        Console.WriteLine("one thread, L2-resident 384 × 2048 | type | tile KB | tile GB per CPU-s (median)");
        for (int k = 0; k < kinds.Count; k++) Console.WriteLine($"in cache | {kinds[k].Name} | {kinds[k].Weight.ByteLength / 1e3:F0} | {Median(rates[k]):F1}");
    }

    // CPU seconds of the calling thread (clock_gettime CLOCK_THREAD_CPUTIME_ID): other tenants' load does not inflate it.
    private static double ThreadCpuSeconds()
    {
        Timespec t;
        if (ClockGetTime(3, &t) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed.");
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, Timespec* time);

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s[s.Length / 2];
    }
}
