using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Bench;

/// <summary>
/// The int8 dot-product items of <c>purellama bench</c> (docs/kernels/int8-dot.md) on Llama-3.2-1B shapes:
/// <see cref="Int8TiledMatmul"/> over INT8, NF4 and INT4-group (g128) weights repacked into tiles, activations
/// quantized inside each call. m = 1 (decode), 4 and 32 (serving batches) are rated in GB/s of the tiled
/// weight bytes (rotating through copies, so they come from memory); m = 128 (prefill) in GFLOP/s.
/// </summary>
internal static unsafe class BenchWorkInt8Dot
{
    private static readonly (int N, int K)[] Shapes = [(8192, 2048), (2048, 8192)];

    /// <summary>The items, appended to <see cref="BenchWork.All"/>.</summary>
    public static IEnumerable<WorkItem> Items()
    {
        foreach (var codes in new[] { TiledCodes.Int8, TiledCodes.Nf4, TiledCodes.Int4 })
        {
            foreach (var (n, k) in Shapes)
                foreach (int m in new[] { 1, 4, 32 })
                    yield return Product(codes, m, n, k);
            yield return Product(codes, 128, 8192, 2048);
        }
    }

    private static string Name(TiledCodes c) => c.ToString().ToLowerInvariant();

    private static Int8TiledWeights Weight(BenchBuffers buf, TiledCodes codes, int n, int k)
    {
        switch (codes)
        {
            case TiledCodes.Int8:
                return Int8TiledRepack.FromInt8(new Int8Matrix(n, k, (sbyte*)buf.Bf16((long)n * k / 2), buf.F32(n)))!;
            case TiledCodes.Nf4:
            {
                long numel = (long)n * k, blocks = numel / 64;
                var packed = (byte*)buf.Bf16(numel / 4);
                float* map = buf.F32(16), absmax = buf.F32(blocks);
                return Int8TiledRepack.FromNf4(new Nf4Matrix(n, k, 64, packed, map, absmax))!;
            }
            default:
            {
                int groups = k / 128;
                var qweight = (int*)buf.Bf16((long)k / 8 * n * 2);
                var qzeros = (int*)buf.Bf16((long)groups * n / 8 * 2);
                var scales = buf.Bf16((long)groups * n);
                for (long i = 0; i < (long)groups * n; i++) scales[i] = BitConverter.HalfToUInt16Bits((Half)0.01f);
                var gIdx = (int*)buf.Bf16(2L * k);
                for (int i = 0; i < k; i++) gIdx[i] = i / 128;
                return Int8TiledRepack.FromInt4(new Int4GroupWeights(qweight, qzeros, scales, gIdx, n, k, groups))!;
            }
        }
    }

    // Codes, F16 scales per (row, weight block), INT4's byte zero points.
    private static double TiledBytes(TiledCodes codes, int n, int k) => codes switch
    {
        TiledCodes.Int8 => 1.0 * n * k + 2.0 * n,
        TiledCodes.Nf4 => 0.5 * n * k + 2.0 * n * (k / 64),
        _ => 0.5 * n * k + 3.0 * n * (k / 128),
    };

    private static WorkItem Product(TiledCodes codes, int m, int n, int k)
    {
        bool prefill = m > 32;
        double bytes = TiledBytes(codes, n, k);
        string id = $"dot_{Name(codes)}_m{m}_{n}x{k}";
        string work = $"int8 dot {codes} weight, m = {m}{(prefill ? " (prefill)" : m == 1 ? " (decode)" : "")}";
        return new WorkItem(id, work, $"{m}×{k} · [{n}×{k}]", prefill ? RateKind.Flops : RateKind.ReadBytes, prefill ? 2.0 * m * n * k : bytes,
            "Int8TiledMatmul.Run over repacked tiles (activation quantization included)", buf =>
            {
                float* x = buf.F32((long)m * k), y = buf.Zeros((long)m * n);
                int copies = prefill ? 1 : (int)Math.Clamp(Math.Ceiling((192 << 20) / bytes), BenchWork.GemvWeightCopies, 96);
                var ws = new Int8TiledWeights[copies];
                for (int i = 0; i < copies; i++) ws[i] = Weight(buf, codes, n, k);
                int next = 0;
                return () => { Int8TiledMatmul.Run(ws[next], m, x, k, y, n, false); next = (next + 1) % copies; };
            }, InPyTorchScript: false);
    }
}
