// Packing for the blocked GEMM (see SimdGemm.cs).
//
//   packed A block (mc × kc of op(A)):  panels of MR rows; panel q, step p holds
//       Ap[q·MR·kc + p·MR + r] = op(A)[i0 + q·MR + r, p0 + p]        (rows past mc are 0)
//   packed B block (kc × nc of op(B)):  panels of NR columns; panel q, step p holds
//       Bp[q·NR·kc + p·NR + j] = op(B)[p0 + p, j0 + q·NR + j]        (columns past nc are 0)
//
// The micro-kernel then reads both panels strictly sequentially. Whenever the source is
// "rows along k" (A not transposed, or B transposed — a weight [n, k]) packing is a transpose;
// with AVX-512 it is done 16×16 in registers (unpack 32-bit, unpack 64-bit, two 128-bit lane
// shuffles). bf16 B is widened (bits << 16) while packing, so the kernel only ever sees f32.
// Buffers need PackSlack floats beyond the packed size: full-width stores may overrun a panel
// by up to 16 floats; every such overrun is overwritten by a later store or lies in the slack.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Kernels.Numerics;

namespace PureLlama.Kernels.Simd;

internal static unsafe class MatmulPacking
{
    /// <summary>Extra floats every pack buffer must have past its packed size.</summary>
    public const int PackSlack = 32;

    // ---------------------------------------------------------------- A

    /// <summary>Packs op(A)[i0.., p0..] (mc × kc) into MR-row panels at <paramref name="dst"/>.</summary>
    public static void PackA(float* a, int lda, bool transA, int i0, int mc, int p0, int kc, int mr, float* dst, bool avx512)
    {
        for (int q = 0; q < mc; q += mr)
        {
            int rows = Math.Min(mr, mc - q);
            float* panel = dst + (long)q * kc;
            int i = i0 + q;
            if (transA) PackRowsContiguous(a + (long)p0 * lda + i, lda, kc, rows, mr, panel, avx512);
            else PackRowsAlongK(a + (long)i * lda + p0, lda, kc, rows, mr, panel, avx512);
        }
    }

    // ---------------------------------------------------------------- B (f32)

    /// <summary>Packs op(B)[p0.., j0..] (kc × nc) into NR-column panels at <paramref name="dst"/>.</summary>
    public static void PackB(float* b, int ldb, bool transB, int p0, int kc, int j0, int nc, int nr, float* dst, bool avx512)
    {
        for (int q = 0; q < nc; q += nr)
        {
            int cols = Math.Min(nr, nc - q);
            float* panel = dst + (long)q * kc;
            int j = j0 + q;
            if (transB) PackRowsAlongK(b + (long)j * ldb + p0, ldb, kc, cols, nr, panel, avx512);
            else PackRowsContiguous(b + (long)p0 * ldb + j, ldb, kc, cols, nr, panel, avx512);
        }
    }

    // ---------------------------------------------------------------- B (bf16 → f32)

    /// <summary>As <see cref="PackB(float*, int, bool, int, int, int, int, int, float*, bool)"/>, widening bf16.</summary>
    public static void PackB(ushort* b, int ldb, bool transB, int p0, int kc, int j0, int nc, int nr, float* dst, bool avx512)
    {
        for (int q = 0; q < nc; q += nr)
        {
            int cols = Math.Min(nr, nc - q);
            float* panel = dst + (long)q * kc;
            int j = j0 + q;
            if (transB) PackRowsAlongKBf16(b + (long)j * ldb + p0, ldb, kc, cols, nr, panel, avx512);
            else PackRowsContiguousBf16(b + (long)p0 * ldb + j, ldb, kc, cols, nr, panel, avx512);
        }
    }

    // ---------------------------------------------------------------- shared shapes

    // panel[p·w + r] = src[p·ld + r] for r < count (source rows are the k steps; copy, pad with 0).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowsContiguous(float* src, int ld, int kc, int count, int w, float* panel, bool avx512)
    {
        if (count == w && w % 16 == 0 && Vector512.IsHardwareAccelerated)
        {
            for (int p = 0; p < kc; p++)
                for (int r = 0; r < w; r += 16)
                    Vector512.Store(Vector512.Load(src + (long)p * ld + r), panel + p * w + r);
            return;
        }
        if (count == w && w % 8 == 0 && Vector256.IsHardwareAccelerated)
        {
            for (int p = 0; p < kc; p++)
                for (int r = 0; r < w; r += 8)
                    Vector256.Store(Vector256.Load(src + (long)p * ld + r), panel + p * w + r);
            return;
        }
        for (int p = 0; p < kc; p++)
        {
            float* s = src + (long)p * ld;
            float* d = panel + p * w;
            int r = 0;
            for (; r < count; r++) d[r] = s[r];
            for (; r < w; r++) d[r] = 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowsContiguousBf16(ushort* src, int ld, int kc, int count, int w, float* panel, bool avx512)
    {
        if (count == w && w % 16 == 0 && Vector512.IsHardwareAccelerated)
        {
            for (int p = 0; p < kc; p++)
                for (int r = 0; r < w; r += 16)
                    Vector512.Store(WidenBf16(Vector256.Load(src + (long)p * ld + r)), panel + p * w + r);
            return;
        }
        for (int p = 0; p < kc; p++)
        {
            ushort* s = src + (long)p * ld;
            float* d = panel + p * w;
            int r = 0;
            for (; r < count; r++) d[r] = Bf16.ToFloat(s[r]);
            for (; r < w; r++) d[r] = 0f;
        }
    }

    // panel[p·w + r] = src[r·ld + p] for r < count (source rows run along k: a transpose; pad with 0).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowsAlongK(float* src, int ld, int kc, int count, int w, float* panel, bool avx512)
    {
        int p = 0;
        if (avx512 && Avx512F.IsSupported && count == w && w <= 32)
        {
            // 16 source rows × 16 k steps at a time; a group narrower than 16 repeats its first row.
            var rows = stackalloc float*[16];
            for (int g = 0; g < w; g += 16)
            {
                int width = Math.Min(16, w - g);
                for (int r = 0; r < 16; r++) rows[r] = src + (long)(g + (r < width ? r : 0)) * ld;
                for (int pp = 0; pp + 16 <= kc; pp += 16)
                    Transpose16Store(rows, pp, panel + pp * w + g, w);
            }
            p = kc & ~15;
        }
        for (int r = 0; r < count; r++)
        {
            float* s = src + (long)r * ld;
            for (int pp = p; pp < kc; pp++) panel[pp * w + r] = s[pp];
        }
        for (int r = count; r < w; r++)
            for (int pp = 0; pp < kc; pp++) panel[pp * w + r] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowsAlongKBf16(ushort* src, int ld, int kc, int count, int w, float* panel, bool avx512)
    {
        int p = 0;
        if (avx512 && Avx512F.IsSupported && count == w && w <= 32)
        {
            var rows = stackalloc ushort*[16];
            for (int g = 0; g < w; g += 16)
            {
                int width = Math.Min(16, w - g);
                for (int r = 0; r < 16; r++) rows[r] = src + (long)(g + (r < width ? r : 0)) * ld;
                for (int pp = 0; pp + 16 <= kc; pp += 16)
                    Transpose16StoreBf16(rows, pp, panel + pp * w + g, w);
            }
            p = kc & ~15;
        }
        for (int r = 0; r < count; r++)
        {
            ushort* s = src + (long)r * ld;
            for (int pp = p; pp < kc; pp++) panel[pp * w + r] = Bf16.ToFloat(s[pp]);
        }
        for (int r = count; r < w; r++)
            for (int pp = 0; pp < kc; pp++) panel[pp * w + r] = 0f;
    }

    // ---------------------------------------------------------------- 16×16 transpose

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> WidenBf16(Vector256<ushort> h)
    {
        Vector512<uint> wide = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512UInt32(h) // vpmovzxwd
            : Vector512.Create(Vector256.WidenLower(h), Vector256.WidenUpper(h));
        return Vector512.ShiftLeft(wide, 16).AsSingle();
    }

    // dst[t·w + r] = rows[r][p + t] for r, t < 16, in increasing t (so a later store may overwrite
    // the previous one's lanes r ≥ w: the overlap trick for w < 16).
    private static void Transpose16Store(float** rows, int p, float* dst, int w)
    {
        Transpose16(
            Vector512.Load(rows[0] + p), Vector512.Load(rows[1] + p), Vector512.Load(rows[2] + p), Vector512.Load(rows[3] + p),
            Vector512.Load(rows[4] + p), Vector512.Load(rows[5] + p), Vector512.Load(rows[6] + p), Vector512.Load(rows[7] + p),
            Vector512.Load(rows[8] + p), Vector512.Load(rows[9] + p), Vector512.Load(rows[10] + p), Vector512.Load(rows[11] + p),
            Vector512.Load(rows[12] + p), Vector512.Load(rows[13] + p), Vector512.Load(rows[14] + p), Vector512.Load(rows[15] + p),
            dst, w);
    }

    private static void Transpose16StoreBf16(ushort** rows, int p, float* dst, int w)
    {
        Transpose16(
            WidenBf16(Vector256.Load(rows[0] + p)), WidenBf16(Vector256.Load(rows[1] + p)), WidenBf16(Vector256.Load(rows[2] + p)), WidenBf16(Vector256.Load(rows[3] + p)),
            WidenBf16(Vector256.Load(rows[4] + p)), WidenBf16(Vector256.Load(rows[5] + p)), WidenBf16(Vector256.Load(rows[6] + p)), WidenBf16(Vector256.Load(rows[7] + p)),
            WidenBf16(Vector256.Load(rows[8] + p)), WidenBf16(Vector256.Load(rows[9] + p)), WidenBf16(Vector256.Load(rows[10] + p)), WidenBf16(Vector256.Load(rows[11] + p)),
            WidenBf16(Vector256.Load(rows[12] + p)), WidenBf16(Vector256.Load(rows[13] + p)), WidenBf16(Vector256.Load(rows[14] + p)), WidenBf16(Vector256.Load(rows[15] + p)),
            dst, w);
    }

    // Input r0..r15 are 16 rows; output column c (c = 4·lane + q) is stored at dst + c·w.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(
        Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3,
        Vector512<float> r4, Vector512<float> r5, Vector512<float> r6, Vector512<float> r7,
        Vector512<float> r8, Vector512<float> r9, Vector512<float> r10, Vector512<float> r11,
        Vector512<float> r12, Vector512<float> r13, Vector512<float> r14, Vector512<float> r15,
        float* dst, int w)
    {
        // Step 1+2: within each 128-bit lane, gather 4 rows of one column: g{group}{q}.
        Quad(r0, r1, r2, r3, out var g00, out var g01, out var g02, out var g03);
        Quad(r4, r5, r6, r7, out var g10, out var g11, out var g12, out var g13);
        Quad(r8, r9, r10, r11, out var g20, out var g21, out var g22, out var g23);
        Quad(r12, r13, r14, r15, out var g30, out var g31, out var g32, out var g33);
        // Step 3+4: assemble lane L of groups 0..3 into column 4L+q.
        Lanes(g00, g10, g20, g30, out var c0, out var c4, out var c8, out var c12);
        Lanes(g01, g11, g21, g31, out var c1, out var c5, out var c9, out var c13);
        Lanes(g02, g12, g22, g32, out var c2, out var c6, out var c10, out var c14);
        Lanes(g03, g13, g23, g33, out var c3, out var c7, out var c11, out var c15);
        // Ascending addresses, so for w < 16 each store's overrun is overwritten by the next.
        Vector512.Store(c0, dst); Vector512.Store(c1, dst + w); Vector512.Store(c2, dst + 2 * w); Vector512.Store(c3, dst + 3 * w);
        Vector512.Store(c4, dst + 4 * w); Vector512.Store(c5, dst + 5 * w); Vector512.Store(c6, dst + 6 * w); Vector512.Store(c7, dst + 7 * w);
        Vector512.Store(c8, dst + 8 * w); Vector512.Store(c9, dst + 9 * w); Vector512.Store(c10, dst + 10 * w); Vector512.Store(c11, dst + 11 * w);
        Vector512.Store(c12, dst + 12 * w); Vector512.Store(c13, dst + 13 * w); Vector512.Store(c14, dst + 14 * w); Vector512.Store(c15, dst + 15 * w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Quad(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d,
        out Vector512<float> q0, out Vector512<float> q1, out Vector512<float> q2, out Vector512<float> q3)
    {
        var t0 = Avx512F.UnpackLow(a, b).AsDouble();  // a0 b0 a1 b1 per lane
        var t1 = Avx512F.UnpackHigh(a, b).AsDouble(); // a2 b2 a3 b3
        var t2 = Avx512F.UnpackLow(c, d).AsDouble();
        var t3 = Avx512F.UnpackHigh(c, d).AsDouble();
        q0 = Avx512F.UnpackLow(t0, t2).AsSingle();    // a0 b0 c0 d0
        q1 = Avx512F.UnpackHigh(t0, t2).AsSingle();   // a1 b1 c1 d1
        q2 = Avx512F.UnpackLow(t1, t3).AsSingle();    // a2 b2 c2 d2
        q3 = Avx512F.UnpackHigh(t1, t3).AsSingle();   // a3 b3 c3 d3
    }

    // v0..v3: one column q for row groups 0..3, lane L holding column 4L+q → columns q, q+4, q+8, q+12.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Lanes(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        out Vector512<float> l0, out Vector512<float> l1, out Vector512<float> l2, out Vector512<float> l3)
    {
        var lo01 = Avx512F.Shuffle4x128(v0, v1, 0b01_00_01_00); // v0.L0 v0.L1 v1.L0 v1.L1
        var hi01 = Avx512F.Shuffle4x128(v0, v1, 0b11_10_11_10); // v0.L2 v0.L3 v1.L2 v1.L3
        var lo23 = Avx512F.Shuffle4x128(v2, v3, 0b01_00_01_00);
        var hi23 = Avx512F.Shuffle4x128(v2, v3, 0b11_10_11_10);
        l0 = Avx512F.Shuffle4x128(lo01, lo23, 0b10_00_10_00); // lanes 0 of v0..v3
        l1 = Avx512F.Shuffle4x128(lo01, lo23, 0b11_01_11_01); // lanes 1
        l2 = Avx512F.Shuffle4x128(hi01, hi23, 0b10_00_10_00); // lanes 2
        l3 = Avx512F.Shuffle4x128(hi01, hi23, 0b11_01_11_01); // lanes 3
    }
}
