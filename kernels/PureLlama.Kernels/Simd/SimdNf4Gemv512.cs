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
// with one FMA into the row accumulator. Double-quantized absmaxes are decoded once per row tile
// (8 at a time: gather from the nested map × nested scale + offset) into a small buffer.
// m = 1: four weight rows share each x' load. m > 1: tiles of 16 rows walk x' in column chunks
// of ≤ 24 KB (for ≤ 4 x rows), so x' stays in L1 even for 8192-column rows.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>The AVX-512 NF4 GEMV for 128-column-aligned weights (see the file header).</summary>
internal static unsafe class SimdNf4Gemv512
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
        if (bpr <= 256)
        {
            float* buf = stackalloc float[Tile16 * bpr + 8];
            Rows(w, r0, r1, m, x, y, ldy, accumulate, buf);
            return;
        }
        float* heap = (float*)NativeMemory.Alloc((nuint)(Tile16 * bpr + 8), sizeof(float));
        try { Rows(w, r0, r1, m, x, y, ldy, accumulate, heap); }
        finally { NativeMemory.Free(heap); }
    }

    private static void Rows(in Nf4Matrix w, int r0, int r1, int m, float* x, float* y, int ldy, bool accumulate, float* buf)
    {
        int cols = w.Cols, bpr = cols / w.BlockSize;
        int r = r0;
        if (m == 1)
            for (; r + 4 <= r1; r += 4)
            {
                long b4 = (long)r * bpr;
                Rows4(w, r, x, buf == null ? w.Absmax + b4 : Decode(w, b4, 4 * bpr, buf), y, accumulate);
            }
        // Leftover rows and m > 1: tiles of up to 16 rows walk x' in column chunks of ≤ 24 KB (≤ 4 x rows),
        // so x' stays in L1 however long the rows are; the accumulators wait in a stack buffer between chunks.
        int kc = Math.Max(128, 6144 / Math.Min(m, 4) & ~127);
        var acc = stackalloc Vector512<float>[4 * Tile16];
        for (; r < r1; r += Tile16)
        {
            int rt = Math.Min(Tile16, r1 - r);
            long b0 = (long)r * bpr;
            float* a = buf == null ? w.Absmax + b0 : Decode(w, b0, rt * bpr, buf);
            for (int j = 0; j < m; j += 4)
            {
                int mm = Math.Min(4, m - j);
                new Span<Vector512<float>>(acc, 4 * Tile16).Clear();
                for (int g0 = 0; g0 < cols; g0 += kc)
                    for (int i = 0; i < rt; i++)
                        Row(w, r + i, mm, x + (long)j * cols, a + i * bpr, g0, Math.Min(cols, g0 + kc), acc + 4 * i);
                for (int i = 0; i < rt; i++)
                    QuantGemvCommon.Store(y + (long)j * ldy, ldy, r + i, mm, accumulate, 1f,
                        Vector512.Sum(acc[4 * i]), Vector512.Sum(acc[4 * i + 1]), Vector512.Sum(acc[4 * i + 2]), Vector512.Sum(acc[4 * i + 3]));
            }
        }
    }

    // Rows per tile of the m > 1 path (its absmax buffer holds this many rows).
    private const int Tile16 = 16;

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

    // mm ≤ 4 x rows (stride-8 order, row stride cols) against weight row r, columns [g0, g1);
    // a = that row's absmaxes; acc[0..mm) = the running 16-lane sums of the mm x rows.
    private static void Row(in Nf4Matrix w, int r, int mm, float* x, float* a, int g0, int g1, Vector512<float>* acc)
    {
        int cols = w.Cols, bs = w.BlockSize;
        var map = Vector512.Load(w.Map);
        byte* p = w.Packed + (long)r * cols / 2;
        float* x0 = x, x1 = mm > 1 ? x + cols : x, x2 = mm > 2 ? x + 2L * cols : x, x3 = mm > 3 ? x + 3L * cols : x;
        Vector512<float> a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        var upper = Upper;
        for (int g = g0; g < g1; g += 128)
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
            var scale = Scale(a, g, bs, upper);
            a0 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x0 + g), scale, a0);
            if (mm > 1) a1 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x1 + g), scale, a1);
            if (mm > 2)
            {
                a2 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x2 + g), scale, a2);
                a3 = Avx512F.FusedMultiplyAdd(Dot8(c0, c1, c2, c3, c4, c5, c6, c7, x3 + g), scale, a3);
            }
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
    }

    // Lanes 8..15 set: picks the upper half's absmax (a bitwise select, no shuffle).
    private static Vector512<float> Upper => Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1).AsSingle();

    // [absmax of columns g..g+63 ×8, absmax of columns g+64..g+127 ×8] from the row's absmaxes a.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scale(float* a, int g, int bs, Vector512<float> upper) => bs == 64
        ? Vector512.ConditionalSelect(upper, Vector512.Create(a[(g >> 6) + 1]), Vector512.Create(a[g >> 6]))
        : Vector512.ConditionalSelect(upper, Vector512.Create(a[(g + 64) / bs]), Vector512.Create(a[g / bs]));

    // One x row (stride-8 order) against weight rows r..r+3: x' is loaded once per group for the four rows.
    private static void Rows4(in Nf4Matrix w, int r, float* x, float* a, float* y, bool accumulate)
    {
        int cols = w.Cols, bs = w.BlockSize, bpr = cols / bs;
        var map = Vector512.Load(w.Map);
        var upper = Upper;
        byte* p = w.Packed + (long)r * cols / 2;
        long half = cols / 2;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int g = 0; g < cols; g += 128)
        {
            var x0 = Vector512.Load(x + g);
            var x1 = Vector512.Load(x + g + 16);
            var x2 = Vector512.Load(x + g + 32);
            var x3 = Vector512.Load(x + g + 48);
            var x4 = Vector512.Load(x + g + 64);
            var x5 = Vector512.Load(x + g + 80);
            var x6 = Vector512.Load(x + g + 96);
            var x7 = Vector512.Load(x + g + 112);
            byte* pg = p + g / 2;
            a0 = Avx512F.FusedMultiplyAdd(Group(map, pg, x0, x1, x2, x3, x4, x5, x6, x7), Scale(a, g, bs, upper), a0);
            a1 = Avx512F.FusedMultiplyAdd(Group(map, pg + half, x0, x1, x2, x3, x4, x5, x6, x7), Scale(a + bpr, g, bs, upper), a1);
            a2 = Avx512F.FusedMultiplyAdd(Group(map, pg + 2 * half, x0, x1, x2, x3, x4, x5, x6, x7), Scale(a + 2 * bpr, g, bs, upper), a2);
            a3 = Avx512F.FusedMultiplyAdd(Group(map, pg + 3 * half, x0, x1, x2, x3, x4, x5, x6, x7), Scale(a + 3 * bpr, g, bs, upper), a3);
        }
        float* dst = y + r;
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        if (accumulate) { dst[0] += s0; dst[1] += s1; dst[2] += s2; dst[3] += s3; }
        else { dst[0] = s0; dst[1] = s1; dst[2] = s2; dst[3] = s3; }
    }

    // The 16-lane dot product of one group's 128 codes (at p) with x' held in registers.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Group(Vector512<float> map, byte* p, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2,
        Vector512<float> x3, Vector512<float> x4, Vector512<float> x5, Vector512<float> x6, Vector512<float> x7)
    {
        var raw = Vector512.Load((uint*)p);
        var t0 = Avx512F.PermuteVar16x32(map, raw.AsInt32()) * x0;
        var t1 = Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 4).AsInt32()) * x1;
        t0 = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 8).AsInt32()), x2, t0);
        t1 = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 12).AsInt32()), x3, t1);
        t0 = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 16).AsInt32()), x4, t0);
        t1 = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 20).AsInt32()), x5, t1);
        t0 = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 24).AsInt32()), x6, t0);
        t1 = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32(map, Vector512.ShiftRightLogical(raw, 28).AsInt32()), x7, t1);
        return t0 + t1;
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
