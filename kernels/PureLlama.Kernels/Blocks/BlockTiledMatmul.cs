// Y[m, rows] (=|+=) X[m, cols] · Ŵᵀ for Q4_0 / Q4_K / Q6_K weights in BlockTiles, with int8 dot products. X is
// quantized once to Q8 blocks of 32 (Simd/Int8Dot/Q8Activations: x ≈ xd[b]·xq, xs[b] = Σ_b xq). For x row j, weight
// row r, and each super-block s (blocks b of 32: one for Q4_0, eight for the K-quants), all integers exact in int32
// and below 2^24 (so exact as F32):
//
//   Q4_0  u[b] = Σ_c q·xq − 8·xs[b]                                          (i16 pair sums, 8 per block < 2^15)
//   Q4_K  u[b] = sc_j·Σ_c q·xq,   n[b] = m_j·xs[b]
//   Q6_K  u[b] = sc_lo·(Σ_{c<16} q·xq − 32·h_lo) + sc_hi·(Σ_{c≥16} q·xq − 32·h_hi)   (h: Σ xq over each half, made
//         once per call; q ≤ 63, so two steps' i16 pair sums add below 2^15 before widening)
//   t = fma(u[b], xd[b], t), k = fma(n[b], xd[b], k)    over the blocks of s, in order, from 0
//   a = fma(t, d, a) (then Q4_K: a = fma(k, −dmin, a))   over the super-blocks, in order, from 0
//   Y[j, r] = a (or Y + a)
//
// Groups of up to 4 x rows share each 64-byte weight load; every (j, r) runs the same float operations whatever m
// is and whichever group j is in, so a row's result is bitwise the same alone, in a batch or in a prefill, and the
// scalar path (same integers, same fused multiply-adds in the same order) matches the SIMD path bit for bit.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Kernels.Simd;
using static PureLlama.Kernels.Simd.Int8DotProducts;

namespace PureLlama.Kernels.Blocks;

/// <summary>The int8 dot-product matmul over Q4_0 / Q4_K / Q6_K tiles (any m).</summary>
internal static unsafe class BlockTiledMatmul
{
    private const int Lanes = BlockTiles.TileRows, MaxGroup = 4;

    /// <summary>Y[m, rows] (=|+=) X[m, cols]·Ŵᵀ; ldx ≥ cols, ldy ≥ rows.</summary>
    public static void Run(BlockTiles w, int m, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if (m == 0) return;
        ArgumentNullException.ThrowIfNull(y);
        if (ldy < w.Rows) throw new ArgumentOutOfRangeException(nameof(ldy), ldy, $"ldy must be at least rows = {w.Rows}.");
        bool simd = Int8TiledMatmul.Accelerated;
        using var a = Q8Activations.Quantize(x, m, w.Cols, ldx, null, simd);
        int[]? halves = w.Type == GgmlType.Q6_K && simd ? HalfSums(a, m, w.Blocks) : null;
        using var pin = halves.AsMemory().Pin();
        nint yp = (nint)y, hp = (nint)pin.Pointer;
        ParallelWork.Rows(w.Tiles, 16L * w.Cols * m, (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
                for (int j0 = 0; j0 < m; j0 += MaxGroup)
                {
                    int mm = Math.Min(MaxGroup, m - j0);
                    if (!simd) TileScalar(w, t, a, j0, mm, (float*)yp, ldy, accumulate);
                    else if (w.Type == GgmlType.Q6_K) Tile512<Q6K>(w, t, a, (int*)hp, j0, mm, (float*)yp, ldy, accumulate);
                    else if (w.Type == GgmlType.Q4_K) Tile512<Q4K>(w, t, a, null, j0, mm, (float*)yp, ldy, accumulate);
                    else Tile512<Q40>(w, t, a, null, j0, mm, (float*)yp, ldy, accumulate);
                }
        });
    }

    /// <summary>Σ xq over each 16-column half of every activation block: I32 [m, 2·blocks].</summary>
    private static int[] HalfSums(Q8Activations a, int m, int blocks)
    {
        var h = new int[m * 2 * blocks];
        for (int j = 0; j < m; j++)
        {
            sbyte* xq = a.Row(j);
            for (int i = 0; i < 2 * blocks; i++)
            {
                int sum = 0;
                for (int c = 16 * i; c < 16 * i + 16; c++) sum += xq[c];
                h[j * 2 * blocks + i] = sum;
            }
        }
        return h;
    }

    private interface IKind { static abstract GgmlType Type { get; } }
    private struct Q40 : IKind { public static GgmlType Type => GgmlType.Q4_0; }
    private struct Q4K : IKind { public static GgmlType Type => GgmlType.Q4_K; }
    private struct Q6K : IKind { public static GgmlType Type => GgmlType.Q6_K; }

    /// <summary>Σ q·xq over two 4-column steps of unsigned byte codes (q ≤ 63) for one x row, widened once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> TwoSteps(Vector512<byte> v0, Vector512<byte> v1, sbyte* x) => WidenPairs(PairsUnsigned(v0, Broadcast4(x)) + PairsUnsigned(v1, Broadcast4(x + 4)));

    /// <summary>The half-block's Σ q·xq minus 32·Σ xq, times its sub-scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Half(Vector512<int> dot, int xSum, Vector512<int> scale) => Avx512F.MultiplyLow(dot - Vector512.Create(32 * xSum), scale);

    /// <summary>Pair sums of one 8-column step of nibble codes for one x row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> NibbleStep(Vector512<byte> lo, Vector512<byte> hi, sbyte* x) => PairsUnsigned(lo, Broadcast4(x)) + PairsUnsigned(hi, Broadcast4(x + 4));

    /// <summary>t + float(u)·xd: one block's integer (exact in F32) scaled by the activation block's d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Block(Vector512<int> u, float xd, Vector512<float> t) =>
        Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(u), Vector512.Create(xd), t);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<TKind>(BlockTiles w, int t, Q8Activations a, int* halves, int j0, int mm, float* y, int ldy, bool accumulate)
        where TKind : struct, IKind
    {
        int j1 = Math.Min(mm, 2) - 1 + j0, j2 = Math.Min(mm, 3) - 1 + j0, j3 = mm - 1 + j0;   // unused rows alias valid ones
        sbyte* x0 = a.Row(j0), x1 = a.Row(j1), x2 = a.Row(j2), x3 = a.Row(j3);
        float* d0 = a.RowScales(j0), d1 = a.RowScales(j1), d2 = a.RowScales(j2), d3 = a.RowScales(j3);
        int* s0 = a.RowSums(j0), s1 = a.RowSums(j1), s2 = a.RowSums(j2), s3 = a.RowSums(j3);
        byte* data = w.Tile(t);
        int blockBytes = w.BlockBytes;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        bool q6k = TKind.Type == GgmlType.Q6_K, q4k = TKind.Type == GgmlType.Q4_K;
        int perSuper = w.BlocksPerSuper;
        for (int sb = 0; sb < w.SuperBlocks; sb++)
        {
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            Vector512<float> k0 = default, k1 = default, k2 = default, k3 = default;
            for (int ab = perSuper * sb; ab < perSuper * sb + perSuper; ab++)
            {
                byte* block = data + (long)ab * blockBytes;
                Vector512<int> scLo = default, scHi = default;
                if (TKind.Type != GgmlType.Q4_0)
                {
                    sbyte* sub = w.SubScales(t, ab);
                    scLo = Avx512F.ConvertToVector512Int32(Vector128.Load(sub));
                    scHi = Avx512F.ConvertToVector512Int32(Vector128.Load(sub + Lanes));
                }
                int c0 = ab * 32;
                Vector512<int> u0, u1 = default, u2 = default, u3 = default;
                if (q6k)
                {
                    Vector512<int> l0 = default, l1 = default, l2 = default, l3 = default;
                    Vector512<int> h0 = default, h1 = default, h2 = default, h3 = default;
                    for (int s = 0; s < 8; s += 2)
                    {
                        var v0 = Vector512.Load(block + 64 * s);
                        var v1 = Vector512.Load(block + 64 * s + 64);
                        int c = c0 + 4 * s;
                        if (s < 4)
                        {
                            l0 += TwoSteps(v0, v1, x0 + c);
                            if (mm > 1) l1 += TwoSteps(v0, v1, x1 + c);
                            if (mm > 2) l2 += TwoSteps(v0, v1, x2 + c);
                            if (mm > 3) l3 += TwoSteps(v0, v1, x3 + c);
                        }
                        else
                        {
                            h0 += TwoSteps(v0, v1, x0 + c);
                            if (mm > 1) h1 += TwoSteps(v0, v1, x1 + c);
                            if (mm > 2) h2 += TwoSteps(v0, v1, x2 + c);
                            if (mm > 3) h3 += TwoSteps(v0, v1, x3 + c);
                        }
                    }
                    int* e0 = halves + (long)j0 * 2 * w.Blocks + 2 * ab, e1 = halves + (long)j1 * 2 * w.Blocks + 2 * ab;
                    int* e2 = halves + (long)j2 * 2 * w.Blocks + 2 * ab, e3 = halves + (long)j3 * 2 * w.Blocks + 2 * ab;
                    u0 = Half(l0, e0[0], scLo) + Half(h0, e0[1], scHi);
                    if (mm > 1)
                    {
                        u1 = Half(l1, e1[0], scLo) + Half(h1, e1[1], scHi);
                        u2 = Half(l2, e2[0], scLo) + Half(h2, e2[1], scHi);
                        u3 = Half(l3, e3[0], scLo) + Half(h3, e3[1], scHi);
                    }
                }
                else
                {
                    Vector512<short> p0 = default, p1 = default, p2 = default, p3 = default;
                    for (int s = 0; s < 4; s++)
                    {
                        var (lo, hi) = Nibbles(Vector512.Load(block + 64 * s));
                        int c = c0 + 8 * s;
                        p0 += NibbleStep(lo, hi, x0 + c);
                        if (mm > 1) p1 += NibbleStep(lo, hi, x1 + c);
                        if (mm > 2) p2 += NibbleStep(lo, hi, x2 + c);
                        if (mm > 3) p3 += NibbleStep(lo, hi, x3 + c);
                    }
                    if (!q4k)
                    {
                        u0 = WidenPairs(p0) - Vector512.Create(8 * s0[ab]);
                        if (mm > 1)
                        {
                            u1 = WidenPairs(p1) - Vector512.Create(8 * s1[ab]);
                            u2 = WidenPairs(p2) - Vector512.Create(8 * s2[ab]);
                            u3 = WidenPairs(p3) - Vector512.Create(8 * s3[ab]);
                        }
                    }
                    else
                    {
                        u0 = Avx512F.MultiplyLow(WidenPairs(p0), scLo);
                        k0 = Block(Avx512F.MultiplyLow(scHi, Vector512.Create(s0[ab])), d0[ab], k0);
                        if (mm > 1)
                        {
                            u1 = Avx512F.MultiplyLow(WidenPairs(p1), scLo);
                            u2 = Avx512F.MultiplyLow(WidenPairs(p2), scLo);
                            u3 = Avx512F.MultiplyLow(WidenPairs(p3), scLo);
                            k1 = Block(Avx512F.MultiplyLow(scHi, Vector512.Create(s1[ab])), d1[ab], k1);
                            k2 = Block(Avx512F.MultiplyLow(scHi, Vector512.Create(s2[ab])), d2[ab], k2);
                            k3 = Block(Avx512F.MultiplyLow(scHi, Vector512.Create(s3[ab])), d3[ab], k3);
                        }
                    }
                }
                t0 = Block(u0, d0[ab], t0);
                if (mm > 1)
                {
                    t1 = Block(u1, d1[ab], t1);
                    t2 = Block(u2, d2[ab], t2);
                    t3 = Block(u3, d3[ab], t3);
                }
            }
            float* scales = w.SuperScales(t, sb);
            var d = Vector512.Load(scales);
            a0 = Vector512.FusedMultiplyAdd(t0, d, a0);
            if (mm > 1)
            {
                a1 = Vector512.FusedMultiplyAdd(t1, d, a1);
                a2 = Vector512.FusedMultiplyAdd(t2, d, a2);
                a3 = Vector512.FusedMultiplyAdd(t3, d, a3);
            }
            if (q4k)
            {
                var negMin = Vector512.Load(scales + Lanes);
                a0 = Vector512.FusedMultiplyAdd(k0, negMin, a0);
                if (mm > 1)
                {
                    a1 = Vector512.FusedMultiplyAdd(k1, negMin, a1);
                    a2 = Vector512.FusedMultiplyAdd(k2, negMin, a2);
                    a3 = Vector512.FusedMultiplyAdd(k3, negMin, a3);
                }
            }
        }
        int r0 = t * Lanes;
        TileRowStore.Group(y, ldy, j0, mm, r0, Math.Min(Lanes, w.Rows - r0), a0, a1, a2, a3, accumulate);
    }

    /// <summary>The same computation lane by lane (no SIMD): identical integers and fused multiply-adds in the same order.</summary>
    private static void TileScalar(BlockTiles w, int t, Q8Activations a, int j0, int mm, float* y, int ldy, bool accumulate)
    {
        int r0 = t * Lanes, n = Math.Min(Lanes, w.Rows - r0);
        for (int lane = 0; lane < n; lane++)
            for (int j = j0; j < j0 + mm; j++)
            {
                sbyte* xq = a.Row(j);
                float acc = 0;
                for (int sb = 0; sb < w.SuperBlocks; sb++)
                {
                    float tSum = 0, kSum = 0;
                    for (int ab = w.BlocksPerSuper * sb; ab < w.BlocksPerSuper * (sb + 1); ab++)
                    {
                        int lo = 0, hi = 0;
                        for (int c = 0; c < 16; c++) lo += w.Code(t, lane, 32 * ab + c) * xq[32 * ab + c];
                        for (int c = 16; c < 32; c++) hi += w.Code(t, lane, 32 * ab + c) * xq[32 * ab + c];
                        float xd = a.RowScales(j)[ab];
                        sbyte* sub = w.SubScales(t, ab);
                        if (w.Type == GgmlType.Q4_0) tSum = MathF.FusedMultiplyAdd(lo + hi - 8 * a.RowSums(j)[ab], xd, tSum);
                        else if (w.Type == GgmlType.Q6_K) tSum = MathF.FusedMultiplyAdd(lo * sub[lane] + hi * sub[Lanes + lane], xd, tSum);
                        else
                        {
                            kSum = MathF.FusedMultiplyAdd(sub[Lanes + lane] * a.RowSums(j)[ab], xd, kSum);
                            tSum = MathF.FusedMultiplyAdd((lo + hi) * sub[lane], xd, tSum);
                        }
                    }
                    float* scales = w.SuperScales(t, sb);
                    acc = MathF.FusedMultiplyAdd(tSum, scales[lane], acc);
                    if (w.Type == GgmlType.Q4_K) acc = MathF.FusedMultiplyAdd(kSum, scales[Lanes + lane], acc);
                }
                float* dst = y + (long)j * ldy + r0 + lane;
                *dst = accumulate ? *dst + acc : acc;
            }
    }
}
