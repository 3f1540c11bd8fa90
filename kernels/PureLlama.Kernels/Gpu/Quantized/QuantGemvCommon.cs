using System.Runtime.CompilerServices;
using ILGPU;

namespace PureLlama.Kernels.Gpu;

/*
 * Pieces shared by the warp-per-row quantized GEMVs (GpuNf4Gemv, GpuInt8Gemv):
 *   dot8(x, base, w) = Σ_{j<8} x[base + j]·w_j      (dequantized weights held in a Vec8)
 * with a masked form for the first and last word of a row (NF4 rows need not start on a word),
 * and the end of a launch: each of the ≤ 4 lane partials s_i is summed over the warp by a
 * shuffle-down tree and lane 0 writes y[i, row] (=|+=) s_i · scale.
 */
internal static class QuantGemvCommon
{
    public const int Threads = 256;

    /// <summary>Σ_j x[xBase + j]·w_j, every term inside the row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot8(ArrayView<float> x, int xBase, Vec8 w) =>
        x[xBase] * w.V0 + x[xBase + 1] * w.V1 + x[xBase + 2] * w.V2 + x[xBase + 3] * w.V3
        + x[xBase + 4] * w.V4 + x[xBase + 5] * w.V5 + x[xBase + 6] * w.V6 + x[xBase + 7] * w.V7;

    /// <summary>Σ_j x[rowBase + col + j]·w_j over the j with 0 ≤ col + j &lt; n only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot8Masked(ArrayView<float> x, int rowBase, int col, int n, Vec8 w)
    {
        float s = 0f;
        s += Term(x, rowBase, col, n, w.V0);
        s += Term(x, rowBase, col + 1, n, w.V1);
        s += Term(x, rowBase, col + 2, n, w.V2);
        s += Term(x, rowBase, col + 3, n, w.V3);
        s += Term(x, rowBase, col + 4, n, w.V4);
        s += Term(x, rowBase, col + 5, n, w.V5);
        s += Term(x, rowBase, col + 6, n, w.V6);
        s += Term(x, rowBase, col + 7, n, w.V7);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Term(ArrayView<float> x, int rowBase, int c, int n, float w) =>
        (uint)c < (uint)n ? x[rowBase + c] * w : 0f;

    /// <summary>Sum of <paramref name="v"/> over the warp, valid in lane 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float WarpSum(float v)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            v += Warp.ShuffleDown(v, offset);
        return v;
    }

    /// <summary>Reduces the lane partials and lets lane 0 write y[i, row] (=|+=) s_i·scale for i &lt; M.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReduceAndStore(QuantGemvShape p, ArrayView<float> y, int row, float scale,
        float s0, float s1, float s2, float s3)
    {
        s0 = WarpSum(s0);
        s1 = WarpSum(s1);
        s2 = WarpSum(s2);
        s3 = WarpSum(s3);
        if (Warp.LaneIdx != 0 || row >= p.Out) return;
        Store(p, y, row, s0 * scale);
        if (p.M > 1) Store(p, y, p.Out + row, s1 * scale);
        if (p.M > 2) Store(p, y, 2 * p.Out + row, s2 * scale);
        if (p.M > 3) Store(p, y, 3 * p.Out + row, s3 * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(QuantGemvShape p, ArrayView<float> y, int idx, float value) =>
        y[idx] = p.Accumulate != 0 ? y[idx] + value : value;
}
