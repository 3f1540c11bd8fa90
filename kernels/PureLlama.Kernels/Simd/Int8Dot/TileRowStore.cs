using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Writes the accumulators of one 16-row weight tile for a group of up to four x rows: y[j, r0 + lane] (=|+=) a_j[lane]
/// for j = j0 … j0 + mm − 1 and the n ≤ 16 rows the tile holds. Shared by the tiled int8 kernels (INT8/NF4/INT4 and the
/// GGUF blocks).
/// </summary>
internal static unsafe class TileRowStore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Group(float* y, int ldy, int j0, int mm, int r0, int n,
        Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, bool accumulate)
    {
        Row(y + (long)j0 * ldy + r0, a0, n, accumulate);
        if (mm > 1) Row(y + (long)(j0 + 1) * ldy + r0, a1, n, accumulate);
        if (mm > 2) Row(y + (long)(j0 + 2) * ldy + r0, a2, n, accumulate);
        if (mm > 3) Row(y + (long)(j0 + 3) * ldy + r0, a3, n, accumulate);
    }

    /// <summary>The same for 8 rows (one half of a tile, the AVX2 kernel): n ≤ 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Group(float* y, int ldy, int j0, int mm, int r0, int n,
        Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, bool accumulate)
    {
        Row(y + (long)j0 * ldy + r0, a0, n, accumulate);
        if (mm > 1) Row(y + (long)(j0 + 1) * ldy + r0, a1, n, accumulate);
        if (mm > 2) Row(y + (long)(j0 + 2) * ldy + r0, a2, n, accumulate);
        if (mm > 3) Row(y + (long)(j0 + 3) * ldy + r0, a3, n, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* y, Vector256<float> v, int n, bool accumulate)
    {
        if (n == Vector256<float>.Count)
        {
            (accumulate ? Vector256.Load(y) + v : v).Store(y);
            return;
        }
        for (int i = 0; i < n; i++) y[i] = accumulate ? y[i] + v.GetElement(i) : v.GetElement(i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* y, Vector512<float> v, int n, bool accumulate)
    {
        if (n == Vector512<float>.Count)
        {
            (accumulate ? Vector512.Load(y) + v : v).Store(y);
            return;
        }
        for (int i = 0; i < n; i++) y[i] = accumulate ? y[i] + v.GetElement(i) : v.GetElement(i);
    }
}
