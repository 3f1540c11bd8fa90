// FlashAttention-2 forward and split-KV decode on ILGPU (GPU form of IBackend.Attention).
//
// Math (per query row i of head h, KV head h / group; scores s_j = scale·q_i·k_j over visible keys):
//   m' = max(m, max_j s_j),  α = e^(m − m'),  l = α·l + Σ_j e^(s_j − m'),  O = α·O + Σ_j e^(s_j − m')·v_j
//   at the end: O /= l, lse = m + log l (−∞ and O = 0 when no key is visible).
// Forward tiling: one group of Bq = 32 threads per (query block of 32, head); thread t owns query
// i0 + t. Its scaled q row and its O accumulator live in shared memory (rows padded to 129 floats:
// thread t touching column c of its own row hits bank (t·129 + c) mod 32 = (t + c) mod 32, no
// conflicts). Keys stream in tiles of Bk = 16: the group loads the K tile, each thread scores it
// against its row (K reads are broadcasts), the group loads the V tile into the same buffer, and each
// thread does its online-softmax update. Shared: 2·32·129 + 16·128 + 32·17 floats ≈ 42 KB (headDim ≤ 128).
// Decode (flash-decoding): one warp per (query row, head, chunk of DecodeChunk keys); lanes split
// head_dim, dot products reduce with warp shuffles (GpuGroupReduce.WarpSum); partial (O_c, lse_c)
// combine as M = max lse_c, w_c = e^(lse_c − M), O = Σ w_c O_c / Σ w_c, lse = M + log Σ w_c.
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Sizes, scale and mask of a GPU attention launch (see AttentionProblem on the CPU).</summary>
internal struct GpuAttentionDims
{
    /// <summary>Sizes: q [Tokens, Heads, HeadDim], k/v [KvLen, KvHeads, HeadDim].</summary>
    public int Tokens, KvLen, Heads, KvHeads, HeadDim;
    /// <summary>Mask: causal (1/0), window (0 = none), position of query 0, segments present (1/0).</summary>
    public int Causal, Window, QueryOffset, HasSegments;
    /// <summary>Softmax scale.</summary>
    public float Scale;
}

/// <summary>FlashAttention forward and decode kernels on ILGPU.</summary>
internal static class GpuFlashAttention
{
    /// <summary>Queries (threads) per forward group, keys per tile, largest head_dim.</summary>
    public const int Bq = 32, Bk = 16, MaxHeadDim = 128;
    internal const int RowStride = MaxHeadDim + 1;

    /// <summary>Keys per chunk of the split-KV decode.</summary>
    public const int DecodeChunk = 256;

    /// <summary>True when the decode path serves this problem (few queries, long cache).</summary>
    public static bool UseDecode(in GpuAttentionDims p) => p.Tokens <= 4 && p.KvLen >= 2 * DecodeChunk;

    /// <summary>o [T, H, d] and lse [H, T] (written when writeLse) of the tiled forward.</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        ArrayView<float> lse, bool writeLse, ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p)
    {
        if (p.Tokens == 0) return;
        int blocks = (p.Tokens + Bq - 1) / Bq;
        GpuKernelCache.For(stream).Load<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, GpuAttentionDims, int>(ForwardKernel)
            (stream, new KernelConfig(blocks * p.Heads, Bq), q, k, v, o, lse, qSeg, kSeg, p, writeLse ? 1 : 0);
    }

    /// <summary>Split-KV decode: partials [T·H, chunks, d] and [T·H, chunks] (caller-allocated), then the combine into o and lse.</summary>
    public static void Decode(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        ArrayView<float> lse, bool writeLse, ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p, ArrayView<float> partO, ArrayView<float> partLse)
    {
        int chunks = DecodeChunks(p), rows = p.Tokens * p.Heads;
        var cache = GpuKernelCache.For(stream);
        int warp = Math.Max(1, stream.Accelerator.WarpSize);
        cache.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<int>, ArrayView<int>, GpuAttentionDims, ArrayView<float>, ArrayView<float>, int>(DecodeKernel)
            (stream, new KernelConfig(rows * chunks, warp), q, k, v, qSeg, kSeg, p, partO, partLse, chunks);
        cache.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, GpuAttentionDims, int, int>(CombineKernel)
            (stream, new KernelConfig(rows, warp), partO, partLse, o, lse, p, chunks, writeLse ? 1 : 0);
    }

    /// <summary>Chunks of the decode path.</summary>
    public static int DecodeChunks(in GpuAttentionDims p) => Math.Max(1, (p.KvLen + DecodeChunk - 1) / DecodeChunk);

    /// <summary>Query i may attend to key j (<see cref="AttentionRules.Visible"/>, then segments).</summary>
    internal static bool Visible(GpuAttentionDims p, ArrayView<int> qSeg, ArrayView<int> kSeg, int i, int j)
    {
        if (!AttentionRules.Visible(p.QueryOffset + i, j, p.Causal, p.Window)) return false;
        return p.HasSegments == 0 || qSeg[i] == kSeg[j];
    }

    /// <summary>Keys [lo, hi) that queries [i0, i0 + nq) can see by position.</summary>
    internal static int KeyLo(GpuAttentionDims p, int i0) => AttentionRules.FirstKey(p.QueryOffset + i0, p.Window);

    internal static int KeyHi(GpuAttentionDims p, int i0, int nq) => AttentionRules.KeyEnd(p.QueryOffset + i0 + nq - 1, p.Causal, p.KvLen);

    /// <summary>False when segment ids rule out every pair of the tile (min/max ranges disjoint); the same in every thread.</summary>
    internal static bool SegmentsMeet(GpuAttentionDims p, ArrayView<int> qSeg, ArrayView<int> kSeg, int i0, int nq, int j0, int nk)
    {
        if (p.HasSegments == 0) return true;
        int qMin = int.MaxValue, qMax = int.MinValue, kMin = int.MaxValue, kMax = int.MinValue;
        for (int i = i0; i < i0 + nq; i++) { qMin = XMath.Min(qMin, qSeg[i]); qMax = XMath.Max(qMax, qSeg[i]); }
        for (int j = j0; j < j0 + nk; j++) { kMin = XMath.Min(kMin, kSeg[j]); kMax = XMath.Max(kMax, kSeg[j]); }
        return qMax >= kMin && qMin <= kMax;
    }

    [GpuKernel]
    internal static void ForwardKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> lse,
        ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p, int writeLse)
    {
        var qSh = SharedMemory.Allocate<float>(Bq * RowStride);   // scale·Q: [32, 129]
        var oSh = SharedMemory.Allocate<float>(Bq * RowStride);   // O: [32, 129]
        var kv = SharedMemory.Allocate<float>(Bk * MaxHeadDim);   // K or V tile: [16, d]
        var sc = SharedMemory.Allocate<float>(Bq * (Bk + 1));     // scores of the tile: [32, 17]
        int d = p.HeadDim, blocks = (p.Tokens + Bq - 1) / Bq;
        int qb = Grid.IdxX % blocks, h = Grid.IdxX / blocks, kvh = AttentionRules.KvHead(h, p.Heads, p.KvHeads);
        int t = Group.IdxX, i0 = qb * Bq, i = i0 + t, nq = XMath.Min(Bq, p.Tokens - i0);
        bool valid = i < p.Tokens;
        long qRow = ((long)i * p.Heads + h) * d;
        for (int c = 0; c < d; c++)
        {
            qSh[t * RowStride + c] = valid ? q[qRow + c] * p.Scale : 0f;
            oSh[t * RowStride + c] = 0f;
        }
        float m = float.NegativeInfinity, l = 0f;
        int lo = KeyLo(p, i0), hi = KeyHi(p, i0, nq);
        long kvStride = (long)p.KvHeads * d;
        for (int j0 = lo; j0 < hi; j0 += Bk)
        {
            int nk = XMath.Min(Bk, hi - j0);
            if (!SegmentsMeet(p, qSeg, kSeg, i0, nq, j0, nk)) continue;
            Group.Barrier();
            for (int e = t; e < nk * d; e += Bq) kv[e] = k[(j0 + e / d) * kvStride + (long)kvh * d + e % d];
            Group.Barrier();
            float tileMax = float.NegativeInfinity;
            for (int jj = 0; jj < nk; jj++)
            {
                float s = float.NegativeInfinity;
                if (valid && Visible(p, qSeg, kSeg, i, j0 + jj))
                {
                    s = 0f;
                    for (int c = 0; c < d; c++) s += qSh[t * RowStride + c] * kv[jj * d + c];
                }
                sc[t * (Bk + 1) + jj] = s;
                tileMax = XMath.Max(tileMax, s);
            }
            Group.Barrier();
            for (int e = t; e < nk * d; e += Bq) kv[e] = v[(j0 + e / d) * kvStride + (long)kvh * d + e % d];
            Group.Barrier();
            float mNew = XMath.Max(m, tileMax);
            if (mNew > float.NegativeInfinity)
            {
                float alpha = XMath.Exp(m - mNew);
                l *= alpha;
                for (int c = 0; c < d; c++) oSh[t * RowStride + c] *= alpha;
                for (int jj = 0; jj < nk; jj++)
                {
                    float pj = XMath.Exp(sc[t * (Bk + 1) + jj] - mNew);
                    if (pj == 0f) continue;
                    l += pj;
                    for (int c = 0; c < d; c++) oSh[t * RowStride + c] += pj * kv[jj * d + c];
                }
                m = mNew;
            }
        }
        if (!valid) return;
        float inv = l > 0f ? 1f / l : 0f;
        for (int c = 0; c < d; c++) o[qRow + c] = oSh[t * RowStride + c] * inv;
        if (writeLse != 0) lse[(long)h * p.Tokens + i] = l > 0f ? m + XMath.Log(l) : float.NegativeInfinity;
    }

    // One warp per (row = i·H + h, chunk); lanes own columns lane, lane + W, … (≤ 128/W per lane).
    [GpuKernel]
    internal static void DecodeKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<int> qSeg, ArrayView<int> kSeg,
        GpuAttentionDims p, ArrayView<float> partO, ArrayView<float> partLse, int chunks)
    {
        var acc = LocalMemory.Allocate<float>(MaxHeadDim);       // ≤ 128/W used per lane
        int d = p.HeadDim, lane = Group.IdxX, w = Group.DimX;
        int row = Grid.IdxX / chunks, chunk = Grid.IdxX % chunks;
        int i = row / p.Heads, h = row % p.Heads, kvh = AttentionRules.KvHead(h, p.Heads, p.KvHeads);
        long qRow = (long)row * d, kvStride = (long)p.KvHeads * d;
        int per = (d + w - 1) / w;
        for (int u = 0; u < per; u++) acc[u] = 0f;
        float m = float.NegativeInfinity, l = 0f;
        int j0 = chunk * DecodeChunk, j1 = XMath.Min(p.KvLen, j0 + DecodeChunk);
        for (int j = j0; j < j1; j++)
        {
            if (!Visible(p, qSeg, kSeg, i, j)) continue;
            long kRow = j * kvStride + (long)kvh * d;
            float part = 0f;
            for (int u = 0; u < per; u++)
            {
                int c = lane + u * w;
                if (c < d) part += q[qRow + c] * k[kRow + c];
            }
            float s = GpuGroupReduce.WarpSum(part) * p.Scale;
            var step = GpuOnlineSoftmax.Next(m, l, s);
            m = step.Max;
            l = step.Sum;
            for (int u = 0; u < per; u++)
            {
                int c = lane + u * w;
                if (c < d) acc[u] = acc[u] * step.Alpha + step.Weight * v[kRow + c];
            }
        }
        long slot = (long)row * chunks + chunk;
        float inv = l > 0f ? 1f / l : 0f;
        for (int u = 0; u < per; u++)
        {
            int c = lane + u * w;
            if (c < d) partO[slot * d + c] = acc[u] * inv;
        }
        if (lane == 0) partLse[slot] = l > 0f ? m + XMath.Log(l) : float.NegativeInfinity;
    }

    // One warp per row = i·H + h: merges its chunks' (O_c, lse_c); writes o [T, H, d] and lse [H, T].
    [GpuKernel]
    internal static void CombineKernel(ArrayView<float> partO, ArrayView<float> partLse, ArrayView<float> o, ArrayView<float> lse,
        GpuAttentionDims p, int chunks, int writeLse)
    {
        int row = Grid.IdxX, d = p.HeadDim;
        float mx = float.NegativeInfinity;
        for (int c = 0; c < chunks; c++) mx = XMath.Max(mx, partLse[(long)row * chunks + c]);
        float sum = 0f;
        if (mx > float.NegativeInfinity)
            for (int c = 0; c < chunks; c++) sum += XMath.Exp(partLse[(long)row * chunks + c] - mx);
        for (int col = Group.IdxX; col < d; col += Group.DimX)
        {
            float acc = 0f;
            if (sum > 0f)
                for (int c = 0; c < chunks; c++)
                {
                    float wgt = XMath.Exp(partLse[(long)row * chunks + c] - mx);
                    if (wgt != 0f) acc += wgt * partO[((long)row * chunks + c) * d + col];
                }
            o[(long)row * d + col] = sum > 0f ? acc / sum : 0f;
        }
        if (writeLse != 0 && Group.IdxX == 0)
        {
            int i = row / p.Heads, h = row % p.Heads;
            lse[(long)h * p.Tokens + i] = sum > 0f ? mx + XMath.Log(sum) : float.NegativeInfinity;
        }
    }
}
