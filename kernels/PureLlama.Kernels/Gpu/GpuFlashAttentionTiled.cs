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
// Blocks are launched longest-first (causal), heads fastest. ILGPU does not unroll loops, so the 4 × 8
// register blocks are Tile4x8 / Vec8 / Vec4 values (Gpu/RegisterTile.cs) whose element loops are written out
// inside their methods: the blocks stay in registers (scripts/ptx-check.sh fails on spills or local memory).
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

    /// <summary>Per row, the maximum over the 8 lanes of its row group (xor shuffles within lane bits 0–2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec4 RowGroupMax(Vec4 x)
    {
        x.V0 = RowGroupMax(x.V0); x.V1 = RowGroupMax(x.V1); x.V2 = RowGroupMax(x.V2); x.V3 = RowGroupMax(x.V3);
        return x;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RowGroupMax(float x)
    {
        x = XMath.Max(x, Warp.ShuffleXor(x, 1));
        x = XMath.Max(x, Warp.ShuffleXor(x, 2));
        return XMath.Max(x, Warp.ShuffleXor(x, 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RowGroupSum(float x)
    {
        x += Warp.ShuffleXor(x, 1);
        x += Warp.ShuffleXor(x, 2);
        return x + Warp.ShuffleXor(x, 4);
    }

    /// <summary>Score (row, key) of the 64 × 64 tile survives: row/key inside the block and visible by the mask rules.</summary>
    private readonly struct ScoreMask(GpuAttentionDims p, ArrayView<int> qSeg, ArrayView<int> kSeg, int i0, int nq, int j0, int nk) : ITileMask
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Keep(int row, int key) => row < nq && key < nk && GpuFlashAttention.Visible(p, qSeg, kSeg, i0 + row, j0 + key);
    }

    /// <summary>True when every (row, key) of the 64 × 64 tile is visible (no per-score test needed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool WhollyVisible(GpuAttentionDims p, int i0, int nq, int j0, int nk) =>
        nq == Bq && nk == Bk && p.HasSegments == 0
        && (p.Causal == 0 || j0 + Bk - 1 <= p.QueryOffset + i0)
        && (p.Window <= 0 || j0 > p.QueryOffset + i0 + Bq - 1 - p.Window);

    /// <summary>
    /// O += P·V for key columns sl + 8u (u = 0..7) of this thread's score block: lane sl of the row group broadcasts its
    /// column u of P (4 rows), every lane adds it times V[sl + 8u][cg + 8x] (x = 0..7) — one rank-1 update per key.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Tile4x8 AddPv(Tile4x8 acc, Tile4x8 s, int src, ArrayView<float> vTile, int b)
    {
        acc = Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(0), src), Vec8.Load(vTile, b + 0 * Bk, 8));
        acc = Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(1), src), Vec8.Load(vTile, b + 8 * Bk, 8));
        acc = Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(2), src), Vec8.Load(vTile, b + 16 * Bk, 8));
        acc = Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(3), src), Vec8.Load(vTile, b + 24 * Bk, 8));
        acc = Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(4), src), Vec8.Load(vTile, b + 32 * Bk, 8));
        acc = Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(5), src), Vec8.Load(vTile, b + 40 * Bk, 8));
        acc = Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(6), src), Vec8.Load(vTile, b + 48 * Bk, 8));
        return Tile4x8.OuterFma(acc, Vec4.Shuffle(s.Column(7), src), Vec8.Load(vTile, b + 56 * Bk, 8));
    }

    /// <summary>Writes one row's 8 output columns (cg + 8x) divided by l, and its lse from lane cg = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ArrayView<float> o, ArrayView<float> lse, GpuAttentionDims p, int writeLse, int h, int i, bool valid, int cg,
        float m, float l, Vec8 row)
    {
        if (!valid) return;
        float inv = l > 0f ? 1f / l : 0f;
        row.StoreScaled(o, ((long)i * p.Heads + h) * p.HeadDim + cg, cg, 8, p.HeadDim, inv);
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
        Vec4 m = Vec4.Fill(float.NegativeInfinity), l = default;   // running max and (per-lane partial) sum of rows r0..r0+3
        Tile4x8 acc = default;                                     // O[r0 + r][cg + 8x], unnormalized
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
            Tile4x8 s = default;                                      // S[r0 + r][cg + 8u] = scale·q·k
            for (int c = 0; c < d; c++)
                s = Tile4x8.OuterFma(s, Vec4.Load(qT, c * Stride + r0, 1), Vec8.Load(kv, c * Stride + cg, 8));
            if (!WhollyVisible(p, i0, nq, j0, nk))
                s = Tile4x8.Where(s, new ScoreMask(p, qSeg, kSeg, i0, nq, j0, nk), r0, cg, 8, float.NegativeInfinity);
            Vec4 mNew = Vec4.Max(m, RowGroupMax(s.RowMax()));
            Vec4 shift = Vec4.NegInfToZero(mNew);                     // a row with no visible score yet: e^(−∞ − 0) = 0
            Vec4 alpha = Vec4.ExpMinus(m, shift);
            m = mNew;
            s = Tile4x8.ExpMinusRows(s, shift);                       // P
            l = s.RowSumsOnto(Vec4.Mul(l, alpha));
            acc = Tile4x8.ScaleRows(acc, alpha);
            Group.Barrier();                                          // every warp is done with Kᵀ
            for (int e = t; e < Bk * MaxHeadDim; e += Threads)
            {
                int key = e / MaxHeadDim, c = e % MaxHeadDim;
                kv[key * Bk + c] = key < nk && c < d ? v[(j0 + key) * kvStride + kvCol + c] : 0f;
            }
            Group.Barrier();
            for (int sl = 0; sl < 8; sl++) acc = AddPv(acc, s, src0 | sl, kv, sl * Bk + cg);
        }
        Store(o, lse, p, writeLse, h, i0 + r0 + 0, r0 + 0 < nq, cg, m.V0, RowGroupSum(l.V0), acc.R0);
        Store(o, lse, p, writeLse, h, i0 + r0 + 1, r0 + 1 < nq, cg, m.V1, RowGroupSum(l.V1), acc.R1);
        Store(o, lse, p, writeLse, h, i0 + r0 + 2, r0 + 2 < nq, cg, m.V2, RowGroupSum(l.V2), acc.R2);
        Store(o, lse, p, writeLse, h, i0 + r0 + 3, r0 + 3 < nq, cg, m.V3, RowGroupSum(l.V3), acc.R3);
    }
}
