// Integer dot products of a block-format weight with activations quantized to Q8 blocks of 32
// (Simd/Int8Dot/Q8Activations: x[c] ≈ xd[b]·xq[c], xs[b] = Σ_{c∈b} xq[c]), the trick llama.cpp's CPU
// matmuls use. Each format's DotQ8 adds Σ_c ŵ[c]·xd[c/32]·xq[c] over one block into eight F32 lanes:
//
//   ints = Σ over 4-byte groups of u·s      (u unsigned codes, s signed activations: vpdpbusd with
//                                            AVX-VNNI, else vpmaddubsw + vpmaddwd; pairs stay < 2^15)
//   acc += float(ints)·(weight scale · xd)  (offsets such as Q4_0's −8 or Q4_K's min use xs)
//
// The weight codes are exact; the only approximation is the activations' int8 rounding (~0.3 % per product).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Blocks;

internal static unsafe class BlockQ8Dot
{
    /// <summary>True where the integer block dots run (AVX2); elsewhere the exact dequantizing path is used.</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Per 4-byte group i: Σ_{k&lt;4} u[4i+k]·s[4i+k] (u ≤ 255 with u·s pair sums below 2^15 on the AVX2 path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) => AvxVnni.IsSupported
        ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s)
        : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256<short>.One);

    /// <summary>Low and high nibbles of 32 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Low(Vector256<byte> v) => v & Vector256.Create((byte)15);

    /// <summary>Bits 4…7 of each byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> High(Vector256<byte> v) => Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & Vector256.Create((byte)15);

    /// <summary>acc += float(ints)·scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> acc, Vector256<int> ints, float scale) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(ints), Vector256.Create(scale), acc);
}

/// <summary>Y = X·Ŵᵀ with X quantized to Q8 blocks and each weight block's integer DotQ8 (decode and prefill, inference only).</summary>
internal static unsafe class BlockQ8Matmul<T> where T : struct, IBlockFormat
{
    private const int RowTile = 8;

    /// <summary>Y[m, rows] (=|+=) X[m, cols]·Ŵᵀ; false (nothing written) when the CPU lacks AVX2.</summary>
    public static bool Run(in BlockMatrix w, int m, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        if (!BlockQ8Dot.Supported) return false;
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if (m == 0) return true;
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        using var a = Simd.Q8Activations.Quantize(x, m, w.Cols, ldx);
        var wc = w;
        nint yp = (nint)y;
        int tiles = (w.Rows + RowTile - 1) / RowTile;
        Simd.ParallelWork.Rows(tiles, (long)RowTile * w.Cols * m, (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
            {
                int r0 = t * RowTile, r1 = Math.Min(wc.Rows, r0 + RowTile);
                for (int j = 0; j < m; j++)
                    for (int r = r0; r < r1; r++)
                    {
                        float v = Row(wc, r, a.Row(j), a.RowScales(j), a.RowSums(j));
                        float* dst = (float*)yp + (long)j * ldy + r;
                        *dst = accumulate ? *dst + v : v;
                    }
            }
        });
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Row(in BlockMatrix w, int r, sbyte* xq, float* xd, int* xs)
    {
        int bv = T.BlockValues, bb = T.BlockBytes, blocks = w.Cols / bv, sub = bv / 32;
        byte* src = w.Row(r);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++)
            T.DotQ8(src + (long)b * bb, xq + (long)b * bv, xd + (long)b * sub, xs + (long)b * sub, ref acc);
        return Vector256.Sum(acc);
    }
}
