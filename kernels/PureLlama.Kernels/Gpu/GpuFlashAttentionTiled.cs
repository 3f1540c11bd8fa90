// FlashAttention-2 forward on ILGPU, register-tiled (GPU form of IBackend.Attention for head_dim ≤ 64).
//
// Math (query row i of head h, KV head h / group; s_j = scale·q_i·k_j over the visible keys j):
//   per key tile: m' = max(m, max_j s_j),  α = e^(m − m'),  p_j = e^(s_j − m'),
//                 l = α·l + Σ_j p_j,  O = α·O + Σ_j p_j·v_j,  m = m'
//   at the end:   O /= l,  lse = m + log l   (no visible key: O = 0, lse = −∞)
//
// Tiling: one group of 128 threads (4 warps) per (block of Bq = 64 queries, head); key tiles of
// Bk = 64. Thread t: cg = t % 8 (lane bits 0–2), rg = t / 8, rows r0..r0+3 with r0 = 4·rg (warp w
// owns rows 16w..16w+15). For each key tile the thread holds a 4 × 8 register block of scores,
// S[r0 + r][cg + 8u] (r < 4, u < 8), and a 4 × 8 block of the output, O[r0 + r][cg + 8x] (x < 8,
// columns ≥ head_dim stay 0). The 8 lanes of one row group together hold whole rows:
//   S = (scale·Q)·Kᵀ : per column c, 4 loads of Qᵀ[c][r0..r0+3] (broadcast within the row group),
//                      8 loads of Kᵀ[c][cg + 8u] (8 consecutive banks), 32 FMAs;
//   row max / row sum: 3 xor-shuffles over the 8 lanes (the sum l is kept per lane and reduced once
//                      at the end, since α is the same in every lane of a row);
//   O += P·V          : the 8 lanes of a row group take turns (sl = 0..7) broadcasting their p values
//                      by warp shuffles; per key 4 shuffles, 8 loads of V[key][cg + 8x], 32 FMAs.
// Shared memory: scale·Qᵀ [64 × 65] (once per block) and one buffer [64 × 65] holding the Kᵀ tile,
// then the V tile (row-major, stride 64): 33.3 KB. Rows of 65 floats make the transposed stores of
// Q and K conflict-free. Every tile costs 4 barriers (K in, S done, V in, P·V done).
// Masks: tiles beyond the causal diagonal / outside the window come from KeyLo/KeyHi and are never
// visited; tiles whose segment ranges do not meet are skipped; only tiles that are not wholly
// visible (diagonal, window edge, ragged ends, packed segments) test each score.
// Blocks are launched longest-first (causal), heads fastest. ILGPU does not unroll loops, so the
// 4 × 8 register blocks are written out as scalars (generated lines, so nothing goes to local memory).
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Register-tiled FlashAttention forward (head_dim ≤ 64) on ILGPU.</summary>
public static class GpuFlashAttentionTiled
{
    /// <summary>Queries per block, keys per tile, threads per group, largest head_dim.</summary>
    public const int Bq = 64, Bk = 64, Threads = 128, MaxHeadDim = 64;
    private const int Stride = 65;

    /// <summary>True when this kernel serves the problem (else the thread-per-row kernel does).</summary>
    public static bool Supports(in GpuAttentionDims p) => p.HeadDim <= MaxHeadDim;

    /// <summary>o [T, H, d] and lse [H, T] (written when writeLse).</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        ArrayView<float> lse, bool writeLse, ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p)
    {
        if (p.Tokens == 0) return;
        int blocks = (p.Tokens + Bq - 1) / Bq;
        GpuKernelCache.For(stream).Load<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, GpuAttentionDims, int>(ForwardKernel)
            (stream, new KernelConfig(blocks * p.Heads, Threads), q, k, v, o, lse, qSeg, kSeg, p, writeLse ? 1 : 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RowMax(float x)
    {
        x = XMath.Max(x, Warp.ShuffleXor(x, 1));
        x = XMath.Max(x, Warp.ShuffleXor(x, 2));
        return XMath.Max(x, Warp.ShuffleXor(x, 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RowSum(float x)
    {
        x += Warp.ShuffleXor(x, 1);
        x += Warp.ShuffleXor(x, 2);
        return x + Warp.ShuffleXor(x, 4);
    }

    /// <summary>Score (row, key) of the tile survives the mask (row/key inside the block and visible).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Keep(GpuAttentionDims p, ArrayView<int> qSeg, ArrayView<int> kSeg, int i0, int row, int nq, int j0, int key, int nk) =>
        row < nq && key < nk && GpuFlashAttention.Visible(p, qSeg, kSeg, i0 + row, j0 + key);

    /// <summary>True when every (row, key) of the 64 × 64 tile is visible (no per-score test needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool WhollyVisible(GpuAttentionDims p, int i0, int nq, int j0, int nk) =>
        nq == Bq && nk == Bk && p.HasSegments == 0
        && (p.Causal == 0 || j0 + Bk - 1 <= p.QueryOffset + i0)
        && (p.Window <= 0 || j0 > p.QueryOffset + i0 + Bq - 1 - p.Window);

    /// <summary>Writes one row's 8 output columns (cg + 8x) divided by l, and its lse from lane cg = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ArrayView<float> o, ArrayView<float> lse, GpuAttentionDims p, int writeLse, int h, int i, bool valid, int cg,
        float m, float l, float a0, float a1, float a2, float a3, float a4, float a5, float a6, float a7)
    {
        if (!valid) return;
        int d = p.HeadDim;
        float inv = l > 0f ? 1f / l : 0f;
        long at = ((long)i * p.Heads + h) * d + cg;
        if (cg < d) o[at] = a0 * inv;
        if (cg + 8 < d) o[at + 8] = a1 * inv;
        if (cg + 16 < d) o[at + 16] = a2 * inv;
        if (cg + 24 < d) o[at + 24] = a3 * inv;
        if (cg + 32 < d) o[at + 32] = a4 * inv;
        if (cg + 40 < d) o[at + 40] = a5 * inv;
        if (cg + 48 < d) o[at + 48] = a6 * inv;
        if (cg + 56 < d) o[at + 56] = a7 * inv;
        if (writeLse != 0 && cg == 0) lse[(long)h * p.Tokens + i] = l > 0f ? m + XMath.Log(l) : float.NegativeInfinity;
    }

    [GpuKernel]
    internal static void ForwardKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> lse,
        ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p, int writeLse)
    {
        var qT = SharedMemory.Allocate<float>(MaxHeadDim * Stride);   // scale·Qᵀ: [c][row], stride 65
        var kv = SharedMemory.Allocate<float>(Bk * Stride);           // Kᵀ tile [c][key] (stride 65), then V tile [key][c] (stride 64)
        int d = p.HeadDim, blocks = (p.Tokens + Bq - 1) / Bq;
        int qb = blocks - 1 - Grid.IdxX / p.Heads, h = Grid.IdxX % p.Heads, kvh = h / (p.Heads / p.KvHeads);
        int t = Group.IdxX, lane = t & 31, cg = t & 7, r0 = (t >> 3) * 4, src0 = lane & ~7;
        int i0 = qb * Bq, nq = XMath.Min(Bq, p.Tokens - i0);
        for (int e = t; e < Bq * MaxHeadDim; e += Threads)
        {
            int row = e / MaxHeadDim, c = e % MaxHeadDim;
            qT[c * Stride + row] = row < nq && c < d ? q[((long)(i0 + row) * p.Heads + h) * d + c] * p.Scale : 0f;
        }
        float m0 = float.NegativeInfinity, m1 = float.NegativeInfinity, m2 = float.NegativeInfinity, m3 = float.NegativeInfinity;
        float l0 = 0f, l1 = 0f, l2 = 0f, l3 = 0f;
        float o00 = 0f, o01 = 0f, o02 = 0f, o03 = 0f, o04 = 0f, o05 = 0f, o06 = 0f, o07 = 0f, o10 = 0f, o11 = 0f, o12 = 0f, o13 = 0f, o14 = 0f, o15 = 0f, o16 = 0f, o17 = 0f, o20 = 0f, o21 = 0f, o22 = 0f, o23 = 0f, o24 = 0f, o25 = 0f, o26 = 0f, o27 = 0f, o30 = 0f, o31 = 0f, o32 = 0f, o33 = 0f, o34 = 0f, o35 = 0f, o36 = 0f, o37 = 0f;
        int lo = GpuFlashAttention.KeyLo(p, i0), hi = GpuFlashAttention.KeyHi(p, i0, nq);
        long kvStride = (long)p.KvHeads * d, kvCol = (long)kvh * d;
        for (int j0 = lo; j0 < hi; j0 += Bk)
        {
            int nk = XMath.Min(Bk, hi - j0);
            if (!GpuFlashAttention.SegmentsMeet(p, qSeg, kSeg, i0, nq, j0, nk)) continue;
            Group.Barrier();                                          // the previous V tile is consumed
            for (int e = t; e < Bk * MaxHeadDim; e += Threads)
            {
                int key = e / MaxHeadDim, c = e % MaxHeadDim;
                kv[c * Stride + key] = key < nk && c < d ? k[(j0 + key) * kvStride + kvCol + c] : 0f;
            }
            Group.Barrier();
            float s00 = 0f, s01 = 0f, s02 = 0f, s03 = 0f, s04 = 0f, s05 = 0f, s06 = 0f, s07 = 0f, s10 = 0f, s11 = 0f, s12 = 0f, s13 = 0f, s14 = 0f, s15 = 0f, s16 = 0f, s17 = 0f, s20 = 0f, s21 = 0f, s22 = 0f, s23 = 0f, s24 = 0f, s25 = 0f, s26 = 0f, s27 = 0f, s30 = 0f, s31 = 0f, s32 = 0f, s33 = 0f, s34 = 0f, s35 = 0f, s36 = 0f, s37 = 0f;
            for (int c = 0; c < d; c++)
            {
                int b = c * Stride;
                float q0 = qT[b + r0 + 0], q1 = qT[b + r0 + 1], q2 = qT[b + r0 + 2], q3 = qT[b + r0 + 3];
                float k0 = kv[b + cg + 0], k1 = kv[b + cg + 8], k2 = kv[b + cg + 16], k3 = kv[b + cg + 24], k4 = kv[b + cg + 32], k5 = kv[b + cg + 40], k6 = kv[b + cg + 48], k7 = kv[b + cg + 56];
                s00 += q0 * k0; s01 += q0 * k1; s02 += q0 * k2; s03 += q0 * k3; s04 += q0 * k4; s05 += q0 * k5; s06 += q0 * k6; s07 += q0 * k7;
                s10 += q1 * k0; s11 += q1 * k1; s12 += q1 * k2; s13 += q1 * k3; s14 += q1 * k4; s15 += q1 * k5; s16 += q1 * k6; s17 += q1 * k7;
                s20 += q2 * k0; s21 += q2 * k1; s22 += q2 * k2; s23 += q2 * k3; s24 += q2 * k4; s25 += q2 * k5; s26 += q2 * k6; s27 += q2 * k7;
                s30 += q3 * k0; s31 += q3 * k1; s32 += q3 * k2; s33 += q3 * k3; s34 += q3 * k4; s35 += q3 * k5; s36 += q3 * k6; s37 += q3 * k7;
            }
            if (!WhollyVisible(p, i0, nq, j0, nk))
            {
                s00 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 0, nk) ? s00 : float.NegativeInfinity;
                s01 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 8, nk) ? s01 : float.NegativeInfinity;
                s02 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 16, nk) ? s02 : float.NegativeInfinity;
                s03 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 24, nk) ? s03 : float.NegativeInfinity;
                s04 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 32, nk) ? s04 : float.NegativeInfinity;
                s05 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 40, nk) ? s05 : float.NegativeInfinity;
                s06 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 48, nk) ? s06 : float.NegativeInfinity;
                s07 = Keep(p, qSeg, kSeg, i0, r0 + 0, nq, j0, cg + 56, nk) ? s07 : float.NegativeInfinity;
                s10 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 0, nk) ? s10 : float.NegativeInfinity;
                s11 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 8, nk) ? s11 : float.NegativeInfinity;
                s12 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 16, nk) ? s12 : float.NegativeInfinity;
                s13 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 24, nk) ? s13 : float.NegativeInfinity;
                s14 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 32, nk) ? s14 : float.NegativeInfinity;
                s15 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 40, nk) ? s15 : float.NegativeInfinity;
                s16 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 48, nk) ? s16 : float.NegativeInfinity;
                s17 = Keep(p, qSeg, kSeg, i0, r0 + 1, nq, j0, cg + 56, nk) ? s17 : float.NegativeInfinity;
                s20 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 0, nk) ? s20 : float.NegativeInfinity;
                s21 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 8, nk) ? s21 : float.NegativeInfinity;
                s22 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 16, nk) ? s22 : float.NegativeInfinity;
                s23 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 24, nk) ? s23 : float.NegativeInfinity;
                s24 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 32, nk) ? s24 : float.NegativeInfinity;
                s25 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 40, nk) ? s25 : float.NegativeInfinity;
                s26 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 48, nk) ? s26 : float.NegativeInfinity;
                s27 = Keep(p, qSeg, kSeg, i0, r0 + 2, nq, j0, cg + 56, nk) ? s27 : float.NegativeInfinity;
                s30 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 0, nk) ? s30 : float.NegativeInfinity;
                s31 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 8, nk) ? s31 : float.NegativeInfinity;
                s32 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 16, nk) ? s32 : float.NegativeInfinity;
                s33 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 24, nk) ? s33 : float.NegativeInfinity;
                s34 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 32, nk) ? s34 : float.NegativeInfinity;
                s35 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 40, nk) ? s35 : float.NegativeInfinity;
                s36 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 48, nk) ? s36 : float.NegativeInfinity;
                s37 = Keep(p, qSeg, kSeg, i0, r0 + 3, nq, j0, cg + 56, nk) ? s37 : float.NegativeInfinity;
            }
            float mx0 = RowMax(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(s00, s01), s02), s03), s04), s05), s06), s07));
            float mNew0 = XMath.Max(m0, mx0), mUse0 = mNew0 == float.NegativeInfinity ? 0f : mNew0;
            float alpha0 = XMath.Exp(m0 - mUse0);
            m0 = mNew0;
            s00 = XMath.Exp(s00 - mUse0); s01 = XMath.Exp(s01 - mUse0); s02 = XMath.Exp(s02 - mUse0); s03 = XMath.Exp(s03 - mUse0); s04 = XMath.Exp(s04 - mUse0); s05 = XMath.Exp(s05 - mUse0); s06 = XMath.Exp(s06 - mUse0); s07 = XMath.Exp(s07 - mUse0);
            l0 = l0 * alpha0 + s00 + s01 + s02 + s03 + s04 + s05 + s06 + s07;
            o00 *= alpha0; o01 *= alpha0; o02 *= alpha0; o03 *= alpha0; o04 *= alpha0; o05 *= alpha0; o06 *= alpha0; o07 *= alpha0;
            float mx1 = RowMax(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(s10, s11), s12), s13), s14), s15), s16), s17));
            float mNew1 = XMath.Max(m1, mx1), mUse1 = mNew1 == float.NegativeInfinity ? 0f : mNew1;
            float alpha1 = XMath.Exp(m1 - mUse1);
            m1 = mNew1;
            s10 = XMath.Exp(s10 - mUse1); s11 = XMath.Exp(s11 - mUse1); s12 = XMath.Exp(s12 - mUse1); s13 = XMath.Exp(s13 - mUse1); s14 = XMath.Exp(s14 - mUse1); s15 = XMath.Exp(s15 - mUse1); s16 = XMath.Exp(s16 - mUse1); s17 = XMath.Exp(s17 - mUse1);
            l1 = l1 * alpha1 + s10 + s11 + s12 + s13 + s14 + s15 + s16 + s17;
            o10 *= alpha1; o11 *= alpha1; o12 *= alpha1; o13 *= alpha1; o14 *= alpha1; o15 *= alpha1; o16 *= alpha1; o17 *= alpha1;
            float mx2 = RowMax(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(s20, s21), s22), s23), s24), s25), s26), s27));
            float mNew2 = XMath.Max(m2, mx2), mUse2 = mNew2 == float.NegativeInfinity ? 0f : mNew2;
            float alpha2 = XMath.Exp(m2 - mUse2);
            m2 = mNew2;
            s20 = XMath.Exp(s20 - mUse2); s21 = XMath.Exp(s21 - mUse2); s22 = XMath.Exp(s22 - mUse2); s23 = XMath.Exp(s23 - mUse2); s24 = XMath.Exp(s24 - mUse2); s25 = XMath.Exp(s25 - mUse2); s26 = XMath.Exp(s26 - mUse2); s27 = XMath.Exp(s27 - mUse2);
            l2 = l2 * alpha2 + s20 + s21 + s22 + s23 + s24 + s25 + s26 + s27;
            o20 *= alpha2; o21 *= alpha2; o22 *= alpha2; o23 *= alpha2; o24 *= alpha2; o25 *= alpha2; o26 *= alpha2; o27 *= alpha2;
            float mx3 = RowMax(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(s30, s31), s32), s33), s34), s35), s36), s37));
            float mNew3 = XMath.Max(m3, mx3), mUse3 = mNew3 == float.NegativeInfinity ? 0f : mNew3;
            float alpha3 = XMath.Exp(m3 - mUse3);
            m3 = mNew3;
            s30 = XMath.Exp(s30 - mUse3); s31 = XMath.Exp(s31 - mUse3); s32 = XMath.Exp(s32 - mUse3); s33 = XMath.Exp(s33 - mUse3); s34 = XMath.Exp(s34 - mUse3); s35 = XMath.Exp(s35 - mUse3); s36 = XMath.Exp(s36 - mUse3); s37 = XMath.Exp(s37 - mUse3);
            l3 = l3 * alpha3 + s30 + s31 + s32 + s33 + s34 + s35 + s36 + s37;
            o30 *= alpha3; o31 *= alpha3; o32 *= alpha3; o33 *= alpha3; o34 *= alpha3; o35 *= alpha3; o36 *= alpha3; o37 *= alpha3;
            Group.Barrier();                                          // every warp is done with Kᵀ
            for (int e = t; e < Bk * MaxHeadDim; e += Threads)
            {
                int key = e / MaxHeadDim, c = e % MaxHeadDim;
                kv[key * Bk + c] = key < nk && c < d ? v[(j0 + key) * kvStride + kvCol + c] : 0f;
            }
            Group.Barrier();
            for (int sl = 0; sl < 8; sl++)
            {
                int src = src0 | sl;
                {
                    int b = (sl + 0) * Bk + cg;
                    float p0 = Warp.Shuffle(s00, src), p1 = Warp.Shuffle(s10, src), p2 = Warp.Shuffle(s20, src), p3 = Warp.Shuffle(s30, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
                {
                    int b = (sl + 8) * Bk + cg;
                    float p0 = Warp.Shuffle(s01, src), p1 = Warp.Shuffle(s11, src), p2 = Warp.Shuffle(s21, src), p3 = Warp.Shuffle(s31, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
                {
                    int b = (sl + 16) * Bk + cg;
                    float p0 = Warp.Shuffle(s02, src), p1 = Warp.Shuffle(s12, src), p2 = Warp.Shuffle(s22, src), p3 = Warp.Shuffle(s32, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
                {
                    int b = (sl + 24) * Bk + cg;
                    float p0 = Warp.Shuffle(s03, src), p1 = Warp.Shuffle(s13, src), p2 = Warp.Shuffle(s23, src), p3 = Warp.Shuffle(s33, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
                {
                    int b = (sl + 32) * Bk + cg;
                    float p0 = Warp.Shuffle(s04, src), p1 = Warp.Shuffle(s14, src), p2 = Warp.Shuffle(s24, src), p3 = Warp.Shuffle(s34, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
                {
                    int b = (sl + 40) * Bk + cg;
                    float p0 = Warp.Shuffle(s05, src), p1 = Warp.Shuffle(s15, src), p2 = Warp.Shuffle(s25, src), p3 = Warp.Shuffle(s35, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
                {
                    int b = (sl + 48) * Bk + cg;
                    float p0 = Warp.Shuffle(s06, src), p1 = Warp.Shuffle(s16, src), p2 = Warp.Shuffle(s26, src), p3 = Warp.Shuffle(s36, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
                {
                    int b = (sl + 56) * Bk + cg;
                    float p0 = Warp.Shuffle(s07, src), p1 = Warp.Shuffle(s17, src), p2 = Warp.Shuffle(s27, src), p3 = Warp.Shuffle(s37, src);
                    float v0 = kv[b + 0], v1 = kv[b + 8], v2 = kv[b + 16], v3 = kv[b + 24], v4 = kv[b + 32], v5 = kv[b + 40], v6 = kv[b + 48], v7 = kv[b + 56];
                    o00 += p0 * v0; o01 += p0 * v1; o02 += p0 * v2; o03 += p0 * v3; o04 += p0 * v4; o05 += p0 * v5; o06 += p0 * v6; o07 += p0 * v7;
                    o10 += p1 * v0; o11 += p1 * v1; o12 += p1 * v2; o13 += p1 * v3; o14 += p1 * v4; o15 += p1 * v5; o16 += p1 * v6; o17 += p1 * v7;
                    o20 += p2 * v0; o21 += p2 * v1; o22 += p2 * v2; o23 += p2 * v3; o24 += p2 * v4; o25 += p2 * v5; o26 += p2 * v6; o27 += p2 * v7;
                    o30 += p3 * v0; o31 += p3 * v1; o32 += p3 * v2; o33 += p3 * v3; o34 += p3 * v4; o35 += p3 * v5; o36 += p3 * v6; o37 += p3 * v7;
                }
            }
        }
        l0 = RowSum(l0);
        Store(o, lse, p, writeLse, h, i0 + r0 + 0, r0 + 0 < nq, cg, m0, l0, o00, o01, o02, o03, o04, o05, o06, o07);
        l1 = RowSum(l1);
        Store(o, lse, p, writeLse, h, i0 + r0 + 1, r0 + 1 < nq, cg, m1, l1, o10, o11, o12, o13, o14, o15, o16, o17);
        l2 = RowSum(l2);
        Store(o, lse, p, writeLse, h, i0 + r0 + 2, r0 + 2 < nq, cg, m2, l2, o20, o21, o22, o23, o24, o25, o26, o27);
        l3 = RowSum(l3);
        Store(o, lse, p, writeLse, h, i0 + r0 + 3, r0 + 3 < nq, cg, m3, l3, o30, o31, o32, o33, o34, o35, o36, o37);
    }
}
