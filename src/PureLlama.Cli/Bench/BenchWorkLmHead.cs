using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Bench;

/// <summary>
/// The lm_head items of <c>purellama bench</c>: one decode product (m = 1) over a Llama-3.2-1B head [128256 × 2048]
/// in each format --lm-head-format offers on the int8-dot path (INT8 tiles, Q6_K / Q8_0 / Q4_K / Q4_0 block tiles, NF4 tiles),
/// rated in GB/s of the tiled bytes. One copy (≥ 139 MB, far beyond the L3) streams from memory every call.
/// </summary>
internal static unsafe class BenchWorkLmHead
{
    private const int Vocab = 128256, Hidden = 2048;

    /// <summary>The items, appended to <see cref="BenchWork.All"/>.</summary>
    public static IEnumerable<WorkItem> Items()
    {
        yield return Tiled("int8", TiledCodes.Int8);
        yield return Tiled("nf4", TiledCodes.Nf4);
        foreach (var type in new[] { GgmlType.Q8_0, GgmlType.Q6_K, GgmlType.Q4_K, GgmlType.Q4_0 })
            yield return Blocks(type);
    }

    private static string Id(string format) => $"head_{format}_m1_{Vocab}x{Hidden}";

    private static WorkItem Tiled(string format, TiledCodes codes)
    {
        double bytes = codes == TiledCodes.Int8 ? 1.0 * Vocab * Hidden + 2.0 * Vocab : 0.5 * Vocab * Hidden + 2.0 * Vocab * (Hidden / 64);
        return new WorkItem(Id(format), $"lm_head {format} tiles, m = 1 (decode)", $"1×{Hidden} · [{Vocab}×{Hidden}]", RateKind.ReadBytes, bytes,
            "Int8TiledMatmul.Run over one repacked head", buf =>
            {
                float* x = buf.F32(Hidden), y = buf.Zeros(Vocab);
                Int8TiledWeights w;
                if (codes == TiledCodes.Int8) w = Int8TiledRepack.FromInt8(new Int8Matrix(Vocab, Hidden, (sbyte*)buf.Bf16((long)Vocab * Hidden / 2), buf.F32(Vocab)))!;
                else w = Int8TiledRepack.FromNf4(new Nf4Matrix(Vocab, Hidden, 64, (byte*)buf.Bf16((long)Vocab * Hidden / 4), buf.F32(16), buf.F32((long)Vocab * Hidden / 64)))!;
                return () => Int8TiledMatmul.Run(w, 1, x, Hidden, y, Vocab, false);
            }, InPyTorchScript: false);
    }

    private static WorkItem Blocks(GgmlType type)
    {
        int bv = BlockFormats.BlockValues(type), bb = BlockFormats.BlockBytes(type);
        long blocks = (long)Vocab * Hidden / bv;
        double bytes = (double)blocks * bb;
        string name = type.ToString().ToLowerInvariant();
        return new WorkItem(Id(name), $"lm_head {type} block tiles, m = 1 (decode)", $"1×{Hidden} · [{Vocab}×{Hidden}]", RateKind.ReadBytes, bytes,
            "BlockTiledMatmul.Run over one repacked head", buf =>
            {
                float* x = buf.F32(Hidden), y = buf.Zeros(Vocab);
                var data = (byte*)buf.Bf16((long)(bytes / 2) + 1);   // random codes and scales; the f16 scales set finite below
                var half = BitConverter.HalfToUInt16Bits((Half)0.01f);
                for (long b = 0; b < blocks; b++)
                {
                    byte* block = data + b * bb;
                    // Q8_0/Q4_0: d first; Q4_K: d, dmin first; Q6_K: d last.
                    if (type == GgmlType.Q6_K) *(ushort*)(block + 208) = half;
                    else { *(ushort*)block = half; if (type == GgmlType.Q4_K) *(ushort*)(block + 2) = half; }
                }
                var w = (BlockTiles)BlockTileRepack.From(type, new BlockMatrix(Vocab, Hidden, data, bv, bb))!;
                return () => BlockTiledMatmul.Run(w, 1, x, Hidden, y, Vocab, false);
            }, InPyTorchScript: false);
    }
}
