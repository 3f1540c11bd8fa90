// NF4 dequant-GEMV, AVX-512 path for whole 128-column groups (cols % 128 == 0, B % 64 == 0):
//
//   Y[j, r] (=|+=) Σ_g Σ_h absmax(r, g + 64h) · Σ_{c in half h of group g} map[nibble(r, c)] · X[j, c]
//
// One 64-byte load holds the 128 codes of a group (byte k: column 2k in its high nibble, 2k+1 in
// its low one). Read as 16 uint32 lanes, lane i holds bytes 4i..4i+3, so lane i >> 4s has in its
// low 4 bits the code of column 8i + (s ^ 1) (s = 0..7). `vpermps` reads only those 4 index bits:
// eight shifts and eight register permutes of the 16-entry code map give all 128 codes with no
// shuffle of the packed bytes. x is rearranged once per call to match ("stride-8 order":
// x'[g + 16s + i] = x[g + 8i + (s ^ 1)]), so each permuted vector FMAs against one contiguous
// x' vector. Lanes 0..7 cover columns g..g+63 and lanes 8..15 columns g+64..g+127, each inside one
// absmax block: the group's dot product t (16 lanes) is scaled by [absmax(lo) ×8, absmax(hi) ×8]
// with one FMA into the row accumulator. Double-quantized absmaxes are decoded once per row
// (8 at a time: gather from the nested map × nested scale + offset) into a small buffer.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>The AVX-512 NF4 GEMV for 128-column-aligned weights (see the file header).</summary>
internal static unsafe class Nf4Gemv512
{
    /// <summary>True when the weight has whole 128-column groups, each half inside one block, rows starting blocks.</summary>
    internal static bool Fits(in Nf4Matrix w) => w.Cols % 128 == 0 && w.BlockSize % 64 == 0 && w.Cols % w.BlockSize == 0;

    // dst[j, g + 16s + i] = x[j, g + 8i + (s ^ 1)]   (g a multiple of 128, s < 8, i < 16)
    internal static void ToStride8Order(int m, int cols, float* x, int ldx, float* dst)
    {
        for (int j = 0; j < m; j++)
        {
            float* s = x + (long)j * ldx, d = dst + (long)j * cols;
            for (int g = 0; g < cols; g += 128)
                for (int i = 0; i < 16; i++)
                {
                    float* si = s + g + 8 * i;
                    float* di = d + g + i;
                    di[0] = si[1]; di[16] = si[0]; di[32] = si[3]; di[48] = si[2];
                    di[64] = si[5]; di[80] = si[4]; di[96] = si[7]; di[112] = si[6];
                }
        }
    }

    /// <summary>Y[m, rows] (=|+=) X'·Ŵᵀ with X' [m, cols] already in stride-8 order (row stride cols).</summary>
    internal static void Run(in Nf4Matrix w, int m, float* xs, float* y, int ldy, bool accumulate)
    {
        var wc = w;
        nint xp = (nint)xs, yp = (nint)y;
        ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) => Tile(wc, r0, r1, m, (float*)xp, (float*)yp, ldy, accumulate));
    }

    private static void Tile(in Nf4Matrix w, int r0, int r1, int m, float* x, float* y, int ldy, bool accumulate)
    {
        int bpr = w.Cols / w.BlockSize;                                                   // blocks per row
        if (!w.DoubleQuantized) { Rows(w, r0, r1, m, x, y, ldy, accumulate, null); return; }
        if (bpr <= 1024)
        {
            float* buf = stackalloc float[bpr + 8];
            Rows(w, r0, r1, m, x, y, ldy, accumulate, buf);
            return;
        }
        float* heap = (float*)NativeMemory.Alloc((nuint)(bpr + 8), sizeof(float));
        try { Rows(w, r0, r1, m, x, y, ldy, accumulate, heap); }
        finally { NativeMemory.Free(heap); }
    }

    private static void Rows(in Nf4Matrix w, int r0, int r1, int m, float* x, float* y, int ldy, bool accumulate, float* buf)
    {
        int cols = w.Cols, bpr = cols / w.BlockSize;
        for (int r = r0; r < r1; r++)
        {
            long b0 = (long)r * bpr;
            float* a = buf == null ? w.Absmax + b0 : Decode(w, b0, bpr, buf);
            for (int j = 0; j < m; j += 4)
                Row(w, r, Math.Min(4, m - j), x + (long)j * cols, a, y + (long)j * ldy, ldy, accumulate);
        }
    }

    // dst[i] = absmax(b0 + i), i < n: nestedMap[code] · nested[b / NB] + offset, 8 blocks per gather.
    private static float* Decode(in Nf4Matrix w, long b0, int n, float* dst)
    {
        int i = 0, nb = w.NestedBlockSize;
        var off = Vector256.Create(w.NestedOffset);
        for (; i + 8 <= n; i += 8)
        {
            long b = b0 + i;
            if (b / nb != (b + 7) / nb) break;                                            // rare: mixed nested scales
            var idx = Avx2.ConvertToVector256Int32(w.AbsmaxCodes + b);
            var v = Avx2.GatherVector256(w.NestedMap, idx, 4);
            Fma.MultiplyAdd(v, Vector256.Create(w.Nested[b / nb]), off).Store(dst + i);
        }
        for (; i < n; i++) dst[i] = w.BlockAbsmax(b0 + i);
        return dst;
    }

    // mm ≤ 4 x rows (stride-8 order, row stride cols) against weight row r; a = that row's absmaxes.
    private static void Row(in Nf4Matrix w, int r, int mm, float* x, float* a, float* y, int ldy, bool accumulate)
    {
        int cols = w.Cols, bs = w.BlockSize;
        var map = Vector512.Load(w.Map);
        byte* p = w.Packed + (long)r * cols / 2;
        float* x0 = x, x1 = mm > 1 ? x + cols : x, x2 = mm > 2 ? x + 2L * cols : x, x3 = mm > 3 ? x + 3L * cols : x;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0; g < cols; g += 128)
        {
            var raw = Vector512.Load((uint*)(p + g / 2));
            var c0 = Avx512F.PermuteVar16x32(map, raw.AsInt32());
            var c1 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 4).AsInt32());
            var c2 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 8).AsInt32());
            var c3 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 12).AsInt32());
            var c4 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 16).AsInt32());
            var c5 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 20).AsInt32());
            var c6 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 24).AsInt32());
            var c7 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 28).AsInt32());
            var scale = bs == 64
                ? Vector512.Create(Vector256.Create(a[g >> 6]), Vector256.Create(a[(g >> 6) + 1]))
                : Vector512.Create(Vector256.Create(a[g / bs]), Vector256.Create(a[(g + 64) / bs]));
            a0 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x0 + g), scale, a0);
            if (mm > 1)
            {
                a1 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x1 + g), scale, a1);
                a2 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x2 + g), scale, a2);
                a3 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x3 + g), scale, a3);
            }
        }
        QuantGemvCommon.Store(y, ldy, r, mm, accumulate, 1f, Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3));
    }

    // Σ_s c_s · x[16s .. 16s+16), two chains.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Dot8(Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3,
        Vector512<float> c4, Vector512<float> c5, Vector512<float> c6, Vector512<float> c7, float* x)
    {
        var t0 = c0 * Vector512.Load(x);
        var t1 = c1 * Vector512.Load(x + 16);
        t0 = Avx512F.FusedMultiplyAdd(c2, Vector512.Load(x + 32), t0);
        t1 = Avx512F.FusedMultiplyAdd(c3, Vector512.Load(x + 48), t1);
        t0 = Avx512F.FusedMultiplyAdd(c4, Vector512.Load(x + 64), t0);
        t1 = Avx512F.FusedMultiplyAdd(c5, Vector512.Load(x + 80), t1);
        t0 = Avx512F.FusedMultiplyAdd(c6, Vector512.Load(x + 96), t0);
        t1 = Avx512F.FusedMultiplyAdd(c7, Vector512.Load(x + 112), t1);
        return t0 + t1;
    }
}
