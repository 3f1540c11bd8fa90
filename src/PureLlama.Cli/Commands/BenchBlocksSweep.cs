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
        var tiles = fileTypes.Select(_ => new List<BlockTiles>()).ToList();
        try
        {
            for (int f = 0; f < fileTypes.Length; f++)
                foreach (var (type, rows, cols) in BenchBlocksCommand.StepShapes(fileTypes[f])) tiles[f].Add(Tiles(rng, type, rows, cols));
            var xs = new float[8192];
            var ys = new float[tiles.Max(l => l.Max(t => t.Rows))];
            var ys3 = new float[3 * ys.Length];
            for (int i = 0; i < xs.Length; i++) xs[i] = (float)(2 * rng.NextDouble() - 1);
            var variants = new List<(string FileType, string Name, double Gb, Action Step)>();
            foreach (var (fileType, list) in fileTypes.Zip(tiles))
            {
                double gb = list.Sum(t => t.ByteLength) / 1e9;
                variants.Add((fileType, "products", gb, () => { fixed (float* px = xs, py = ys) foreach (var t in list) BlockTiledMatmul.Run(t, 1, px, t.Cols, py, t.Rows, false); }));
                variants.Add((fileType, "products, q/k/v and gate/up under one fork", gb, () => Grouped(list, xs, ys3)));
                variants.Add((fileType, "bare read", gb, () => { foreach (var t in list) Read(t); }));
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
            foreach (var t in tiles.SelectMany(l => l)) t.Dispose();
        }
    }

    // A layer's products as a model can run them (StepShapes order q, k, v, o, gate, up, down, then the output matrix):
    // q/k/v and gate/up each under one fork (BlockTiledMatmul.RunMany), the others alone.
    private static void Grouped(List<BlockTiles> list, float[] xs, float[] ys)
    {
        int stride = ys.Length / 3;
        fixed (float* px = xs, py = ys)
            for (int i = 0; i < list.Count;)
            {
                int size = i == list.Count - 1 ? 1 : (i % 7) switch { 0 => 3, 4 => 2, _ => 1 };
                var group = new TiledProduct[size];
                for (int k = 0; k < size; k++) group[k] = new TiledProduct(list[i + k], px, list[i + k].Cols, py + k * stride, list[i + k].Rows, false);
                BlockTiledMatmul.RunMany(group, 1);
                i += size;
            }
    }

    private static BlockTiles Tiles(Random rng, GgmlType type, int rows, int cols)
    {
        var bytes = BenchBlocksCommand.RandomBlocks(rng, type, rows, cols);
        fixed (byte* p = bytes)
            return BlockTiles.From(type, new BlockMatrix(rows, cols, p, BlockFormats.BlockValues(type), BlockFormats.BlockBytes(type)));
    }

    private static readonly long[] Sink = new long[64];

    // Every byte of the tiles (codes, sub-scales, super-scales) read once with 64-byte loads, split as the products split.
    private static void Read(BlockTiles t)
    {
        long subPerTile = t.SubBytesPerTile, superPerTile = 32L * t.ScalesPerSuper * t.SuperBlocks;
        ParallelWork.Rows(t.Tiles, 16L * t.Cols, (t0, t1) =>
        {
            var acc = Xor(t.Tile(t0), (t1 - t0) * t.TileBytes, default);
            if (subPerTile > 0) acc = Xor(t.Sub + t0 * subPerTile, (t1 - t0) * subPerTile, acc);
            acc = Xor((byte*)t.Super + t0 * superPerTile, (t1 - t0) * superPerTile, acc);
            Sink[(t0 & 7) * 8] += acc.AsInt64().ToScalar();
        });
    }

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
        GgmlType[] kinds = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];
        var rng = new Random(11);
        var tiles = kinds.Select(k => Tiles(rng, k, Rows, Hidden)).ToList();
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
                    for (int k = 0; k < kinds.Length; k++)
                    {
                        double cpu0 = ThreadCpuSeconds();
                        for (int i = 0; i < Calls; i++) BlockTiledMatmul.Run(tiles[k], 1, px, Hidden, py, Rows, false);
                        double s = ThreadCpuSeconds() - cpu0;
                        if (round > 0) rates[k].Add(tiles[k].ByteLength * (double)Calls / s / 1e9);
                    }
        }
        finally
        {
            SimdThreading.MaxThreads = threads;
            foreach (var t in tiles) t.Dispose();
        }
        Console.WriteLine("one thread, L2-resident 384 × 2048 | type | tile KB | tile GB per CPU-s (median)");
        for (int k = 0; k < kinds.Length; k++) Console.WriteLine($"in cache | {kinds[k]} | {tiles[k].ByteLength / 1e3:F0} | {Median(rates[k]):F1}");
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
