// The AVX2 micro-kernel of Int8TiledMatmul, for machines without AVX-512BW: the math of the file header of
// Int8TiledMatmul.cs on 256-bit vectors. A 64-byte step of a tile holds 16 weight rows (4 bytes each); a 256-bit vector
// holds 8, so the tile is walked twice, rows 0…7 (the low 32 bytes of every step) then rows 8…15 (the high 32 bytes; the
// second walk finds the tile in cache). Per (x row, weight row) the integers, and the fused multiply-adds and their order,
// are Tile512's and TileScalar's, so the results are theirs bit for bit (batch invariance included).
// Not here: vpdpbusd (AvxVnni), which would fold each vpmaddubsw/vpmaddwd pair into one instruction; no machine at hand
// exposes it to .NET to test it on (docs/kernels/int8-dot.md).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static PureLlama.Kernels.Simd.Int8DotProducts;

namespace PureLlama.Kernels.Simd;

internal static unsafe partial class Int8TiledMatmul
{
    /// <summary>True when the AVX2 micro-kernel is the one that runs (AVX2 and FMA, no AVX-512BW or a 256-bit level forced).</summary>
    public static bool AcceleratedNarrow => !Accelerated && Avx2.IsSupported && Fma.IsSupported && GemmIsa.Current >= GemmSimdLevel.Vector256;

    private static void TileNarrow(Int8TiledWeights w, int t, Q8Activations a, int j0, int mm, float* y, int ldy, bool accumulate)
    {
        for (int half = 0; half < 2 && t * Lanes + 8 * half < w.Rows; half++)
        {
            if (w.Codes == TiledCodes.Int8) TileNarrow<Int8Codes>(w, t, half, a, j0, mm, y, ldy, accumulate);
            else if (w.Codes == TiledCodes.Nf4) TileNarrow<Nf4Codes>(w, t, half, a, j0, mm, y, ldy, accumulate);
            else TileNarrow<Int4Codes>(w, t, half, a, j0, mm, y, ldy, accumulate);
        }
    }

    private static void TileNarrow<TCodes>(Int8TiledWeights w, int t, int half, Q8Activations a, int j0, int mm, float* y, int ldy, bool accumulate)
        where TCodes : struct, ICodes
    {
        switch (mm)
        {
            case 1: TileNarrow<TCodes, OneRow>(w, t, half, a, j0, y, ldy, accumulate); break;
            case 2: TileNarrow<TCodes, TwoRows>(w, t, half, a, j0, y, ldy, accumulate); break;
            case 3: TileNarrow<TCodes, ThreeRows>(w, t, half, a, j0, y, ldy, accumulate); break;
            default: TileNarrow<TCodes, FourRows>(w, t, half, a, j0, y, ldy, accumulate); break;
        }
    }

    /// <summary>Step pair s of one x row: i32 sums (signed bytes, offset codes) or i16 pair sums (4-bit zero-point codes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairNarrow<TCodes>(Vector256<byte> w0, Vector256<sbyte> n0, Vector256<byte> w1, Vector256<sbyte> n1, sbyte* x)
        where TCodes : struct, ICodes => TCodes.Kind switch
        {
            DotKind.ZeroPointNibbles => (PairsUnsigned(w0, Broadcast4Narrow(x)) + PairsUnsigned(w1, Broadcast4Narrow(x + 4))).AsInt32(),
            DotKind.SignedBytes => DotUnsigned(w0, ApplySign(Broadcast4Narrow(x), n0)) + DotUnsigned(w1, ApplySign(Broadcast4Narrow(x + 4), n1)),
            _ => DotUnsigned(w0, Broadcast4Narrow(x)) + DotUnsigned(w1, Broadcast4Narrow(x + 4)),
        };

    /// <summary>Adds step sums: i32 lanes, or i16 lanes for 4-bit zero-point codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> AddNarrow<TCodes>(Vector256<int> a, Vector256<int> b) where TCodes : struct, ICodes =>
        TCodes.Kind == DotKind.ZeroPointNibbles ? (a.AsInt16() + b.AsInt16()).AsInt32() : a + b;

    /// <summary>The block's int32 dot from its step sums (as <c>BlockDot</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> BlockDotNarrow<TCodes>(Vector256<int> i, int* sum) where TCodes : struct, ICodes =>
        Vector256.ConvertToSingle(TCodes.Kind switch
        {
            DotKind.OffsetCodes => i - Vector256.Create(Int8TiledWeights.Nf4LevelOffset * *sum),
            DotKind.ZeroPointNibbles => WidenPairs(i.AsInt16()),
            _ => i,
        });

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileNarrow<TCodes, TRows>(Int8TiledWeights w, int t, int half, Q8Activations a, int j0, float* y, int ldy, bool accumulate)
        where TCodes : struct, ICodes where TRows : struct, IRowCount
    {
        int mm = TRows.Count;
        var levels = Vector256.Create(w.OffsetLevels, w.OffsetLevels);
        int j1 = Math.Min(mm, 2) - 1 + j0, j2 = Math.Min(mm, 3) - 1 + j0, j3 = mm - 1 + j0;   // unused rows alias valid ones
        sbyte* x0 = a.Row(j0), x1 = a.Row(j1), x2 = a.Row(j2), x3 = a.Row(j3);
        float* d0 = a.RowScales(j0), d1 = a.RowScales(j1), d2 = a.RowScales(j2), d3 = a.RowScales(j3);
        int* s0 = a.RowSums(j0), s1 = a.RowSums(j1), s2 = a.RowSums(j2), s3 = a.RowSums(j3);
        bool zeroPoints = TCodes.Kind == DotKind.ZeroPointNibbles;
        float* e0 = zeroPoints ? a.RowZeroPointSums(j0) : null, e1 = zeroPoints ? a.RowZeroPointSums(j1) : null;
        float* e2 = zeroPoints ? a.RowZeroPointSums(j2) : null, e3 = zeroPoints ? a.RowZeroPointSums(j3) : null;
        byte* block = w.Tile(t);
        bool fetch = j0 == 0 && half == 0;   // the tile's first walk streams it in
        ushort* scales = w.TileScales(t, 0) + 8 * half;
        byte* zeros = zeroPoints ? w.TileZeros(t, 0) + 8 * half : null;
        int perWeightBlock = w.BlockCols / 32, blocks = a.Blocks, weightBlocks = w.WeightBlocks;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int wb = 0, ab = 0; wb < weightBlocks; wb++)
        {
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            int ab1 = Math.Min(blocks, (wb + 1) * perWeightBlock);
            for (; ab < ab1; ab++, block += TCodes.BlockBytes)
            {
                if (fetch) Prefetch<TCodes>(block);
                int c0 = ab * 32;
                Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
                for (int s = 0; s < 4; s++)
                {
                    var (w0, n0, w1, n1) = TCodes.Pair(block, s, half, levels);
                    int c = c0 + 8 * s;
                    i0 = AddNarrow<TCodes>(i0, PairNarrow<TCodes>(w0, n0, w1, n1, x0 + c));   // integer sums: exact in any order
                    if (mm > 1) i1 = AddNarrow<TCodes>(i1, PairNarrow<TCodes>(w0, n0, w1, n1, x1 + c));
                    if (mm > 2) i2 = AddNarrow<TCodes>(i2, PairNarrow<TCodes>(w0, n0, w1, n1, x2 + c));
                    if (mm > 3) i3 = AddNarrow<TCodes>(i3, PairNarrow<TCodes>(w0, n0, w1, n1, x3 + c));
                }
                b0 = Vector256.FusedMultiplyAdd(BlockDotNarrow<TCodes>(i0, s0 + ab), Vector256.Create(d0[ab]), b0);
                if (mm > 1) b1 = Vector256.FusedMultiplyAdd(BlockDotNarrow<TCodes>(i1, s1 + ab), Vector256.Create(d1[ab]), b1);
                if (mm > 2) b2 = Vector256.FusedMultiplyAdd(BlockDotNarrow<TCodes>(i2, s2 + ab), Vector256.Create(d2[ab]), b2);
                if (mm > 3) b3 = Vector256.FusedMultiplyAdd(BlockDotNarrow<TCodes>(i3, s3 + ab), Vector256.Create(d3[ab]), b3);
            }
            if (zeroPoints)
            {
                var z = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(zeros + wb * Lanes));
                b0 = Vector256.FusedMultiplyAdd(z, Vector256.Create(e0[wb]), b0);
                if (mm > 1) b1 = Vector256.FusedMultiplyAdd(z, Vector256.Create(e1[wb]), b1);
                if (mm > 2) b2 = Vector256.FusedMultiplyAdd(z, Vector256.Create(e2[wb]), b2);
                if (mm > 3) b3 = Vector256.FusedMultiplyAdd(z, Vector256.Create(e3[wb]), b3);
            }
            var sv = HalfToSingleNarrow(scales + wb * Lanes);
            a0 = Vector256.FusedMultiplyAdd(b0, sv, a0);
            if (mm > 1) a1 = Vector256.FusedMultiplyAdd(b1, sv, a1);
            if (mm > 2) a2 = Vector256.FusedMultiplyAdd(b2, sv, a2);
            if (mm > 3) a3 = Vector256.FusedMultiplyAdd(b3, sv, a3);
        }
        int r0 = t * Lanes + 8 * half;
        TileRowStore.Group(y, ldy, j0, mm, r0, Math.Min(8, w.Rows - r0), a0, a1, a2, a3, accumulate);
    }
}
