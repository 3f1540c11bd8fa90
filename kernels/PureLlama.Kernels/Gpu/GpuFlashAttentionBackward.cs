// FlashAttention-2 backward on ILGPU (GPU form of IBackend.AttentionBackward).
//
// Math: scores are recomputed from Q, K and the saved lse, never stored:
//   D_i = Σ_c dO_ic·O_ic,  p_ij = e^(scale·q_i·k_j − lse_i),  dp_ij = dO_i·v_j,  ds_ij = p_ij (dp_ij − D_i)
//   dV_j = Σ_i p_ij dO_i,  dK_j = Σ_i ds_ij (scale·q_i),  dQ_i = scale Σ_j ds_ij k_j
// Deterministic, no atomics, as on the CPU: KeyGradKernel gives each thread one key row (group of 32
// keys per KV head) and walks every visible query of every head in the group in a fixed order,
// so dK/dV of a KV head sum over its group; its K/V rows sit in shared memory ([32, 129] each) and
// queries stream through shared tiles of 8 (scale·Q and dO, [8, 128] each). QueryGradKernel gives
// each thread one query row (group of 32 per head) with scale·Q and dO in shared memory ([32, 129])
// and streams K/V tiles of 8 keys. Each thread touches only its own rows of the [32 × stride]
// buffers (stride 65 for head_dim ≤ 64, 129 above: bank (t + c) mod 32, conflict-free). For
// head_dim ≤ 64 the accumulators (dK, dV rows; the dQ row) live in shared memory too and are written
// to global memory once at the end; above 64 they do not fit and accumulate in the output rows in
// global memory. Shared memory ≤ 41.5 KB.
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>FlashAttention backward kernels on ILGPU.</summary>
internal static class GpuFlashAttentionBackward
{
    private const int Rows = 32, QTile = 8, KTile = 8, MaxD = GpuFlashAttention.MaxHeadDim, RowStride = MaxD + 1;
    private const int SmallD = 64, SmallStride = SmallD + 1;

    /// <summary>dq, dk, dv (overwritten) from q, k, v, o, dO, lse; rowDot: scratch [H·T].</summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        ArrayView<float> dO, ArrayView<float> lse, ArrayView<float> rowDot, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p)
    {
        var cache = GpuKernelCache.For(stream);
        long rows = (long)p.Tokens * p.Heads;
        if (rows > 0)
            cache.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, GpuAttentionDims>(RowDotKernel)
                (stream, cache.Stride(rows), o, dO, rowDot, p);
        if (p.KvLen > 0)
            cache.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, GpuAttentionDims>(KeyGradKernel)
                (stream, new KernelConfig((p.KvLen + Rows - 1) / Rows * p.KvHeads, Rows), q, k, v, dO, lse, rowDot, dk, dv, qSeg, kSeg, p);
        if (p.Tokens > 0)
            cache.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, GpuAttentionDims>(QueryGradKernel)
                (stream, new KernelConfig((p.Tokens + Rows - 1) / Rows * p.Heads, Rows), q, k, v, dO, lse, rowDot, dq, qSeg, kSeg, p);
    }

    // rowDot[h·T + i] = Σ_c dO[i, h, c]·O[i, h, c]  (grid-stride over rows i·H + h).
    [GpuKernel]
    internal static void RowDotKernel(ArrayView<float> o, ArrayView<float> dO, ArrayView<float> rowDot, GpuAttentionDims p)
    {
        long n = (long)p.Tokens * p.Heads, stride = (long)Grid.DimX * Group.DimX;
        for (long r = (long)Grid.IdxX * Group.DimX + Group.IdxX; r < n; r += stride)
        {
            float s = 0f;
            for (int c = 0; c < p.HeadDim; c++) s += dO[r * p.HeadDim + c] * o[r * p.HeadDim + c];
            rowDot[(r % p.Heads) * p.Tokens + r / p.Heads] = s;
        }
    }

    /// <summary>lse of a row, +∞ for rows that saw no key (so every recomputed probability is 0).</summary>
    private static float RowLse(ArrayView<float> lse, long at)
    {
        float l = lse[at];
        return l == float.NegativeInfinity ? float.PositiveInfinity : l;
    }

    [GpuKernel]
    internal static void KeyGradKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dO, ArrayView<float> lse,
        ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv, ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p)
    {
        var rowsSh = SharedMemory.Allocate<float>(4 * Rows * SmallStride);   // K, V (, dK, dV) rows: [32, rs] each
        var qT = SharedMemory.Allocate<float>(QTile * MaxD);        // scale·Q tile: [8, d]
        var dOT = SharedMemory.Allocate<float>(QTile * MaxD);       // dO tile: [8, d]
        int d = p.HeadDim, group = p.Heads / p.KvHeads, kBlocks = (p.KvLen + Rows - 1) / Rows;
        int kb = Grid.IdxX % kBlocks, kvh = Grid.IdxX / kBlocks, t = Group.IdxX;
        int j0 = kb * Rows, j = j0 + t, nk = XMath.Min(Rows, p.KvLen - j0);
        bool valid = j < p.KvLen, small = d <= SmallD;
        int rs = small ? SmallStride : RowStride, kOff = t * rs, vOff = (Rows + t) * rs, dkOff = (2 * Rows + t) * rs, dvOff = (3 * Rows + t) * rs;
        long kRow = ((long)j * p.KvHeads + kvh) * d;
        for (int c = 0; c < d; c++)
        {
            rowsSh[kOff + c] = valid ? k[kRow + c] : 0f;
            rowsSh[vOff + c] = valid ? v[kRow + c] : 0f;
            if (small) { rowsSh[dkOff + c] = 0f; rowsSh[dvOff + c] = 0f; }
            else if (valid) { dk[kRow + c] = 0f; dv[kRow + c] = 0f; }
        }
        // Queries whose position can reach keys [j0, j0 + nk).
        int iLo = AttentionRules.FirstQuery(j0, p.QueryOffset, p.Tokens, p.Causal);
        int iHi = AttentionRules.QueryEnd(j0 + nk - 1, p.QueryOffset, p.Tokens, p.Window);
        for (int g = 0; g < group; g++)
        {
            int h = kvh * group + g;
            for (int i0 = iLo; i0 < iHi; i0 += QTile)
            {
                int nq = XMath.Min(QTile, iHi - i0);
                if (!GpuFlashAttention.SegmentsMeet(p, qSeg, kSeg, i0, nq, j0, nk)) continue;
                Group.Barrier();
                for (int e = t; e < nq * d; e += Rows)
                {
                    long at = ((long)(i0 + e / d) * p.Heads + h) * d + e % d;
                    qT[e] = q[at] * p.Scale;
                    dOT[e] = dO[at];
                }
                Group.Barrier();
                if (!valid) continue;
                for (int ii = 0; ii < nq; ii++)
                {
                    int i = i0 + ii;
                    if (!GpuFlashAttention.Visible(p, qSeg, kSeg, i, j)) continue;
                    float s = 0f, dp = 0f;
                    for (int c = 0; c < d; c++)
                    {
                        s += qT[ii * d + c] * rowsSh[kOff + c];
                        dp += dOT[ii * d + c] * rowsSh[vOff + c];
                    }
                    long at = (long)h * p.Tokens + i;
                    float pr = XMath.Exp(s - RowLse(lse, at));
                    float ds = pr * (dp - rowDot[at]);
                    if (small)
                        for (int c = 0; c < d; c++)
                        {
                            rowsSh[dvOff + c] += pr * dOT[ii * d + c];
                            rowsSh[dkOff + c] += ds * qT[ii * d + c];
                        }
                    else
                        for (int c = 0; c < d; c++)
                        {
                            dv[kRow + c] += pr * dOT[ii * d + c];
                            dk[kRow + c] += ds * qT[ii * d + c];
                        }
                }
            }
        }
        if (small && valid)
            for (int c = 0; c < d; c++) { dk[kRow + c] = rowsSh[dkOff + c]; dv[kRow + c] = rowsSh[dvOff + c]; }
    }

    [GpuKernel]
    internal static void QueryGradKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dO, ArrayView<float> lse,
        ArrayView<float> rowDot, ArrayView<float> dq, ArrayView<int> qSeg, ArrayView<int> kSeg, GpuAttentionDims p)
    {
        var rowsSh = SharedMemory.Allocate<float>(2 * Rows * RowStride);   // scale·Q, dO (, dQ) rows: [32, rs] each
        var kT = SharedMemory.Allocate<float>(KTile * MaxD);        // K tile: [8, d]
        var vT = SharedMemory.Allocate<float>(KTile * MaxD);        // V tile: [8, d]
        int d = p.HeadDim, blocks = (p.Tokens + Rows - 1) / Rows;
        int qb = Grid.IdxX % blocks, h = Grid.IdxX / blocks, kvh = AttentionRules.KvHead(h, p.Heads, p.KvHeads), t = Group.IdxX;
        int i0 = qb * Rows, i = i0 + t, nq = XMath.Min(Rows, p.Tokens - i0);
        bool valid = i < p.Tokens, small = d <= SmallD;
        int rs = small ? SmallStride : RowStride, qOff = t * rs, dOOff = (Rows + t) * rs, dqOff = (2 * Rows + t) * rs;
        long qRow = ((long)i * p.Heads + h) * d;
        for (int c = 0; c < d; c++)
        {
            rowsSh[qOff + c] = valid ? q[qRow + c] * p.Scale : 0f;
            rowsSh[dOOff + c] = valid ? dO[qRow + c] : 0f;
            if (small) rowsSh[dqOff + c] = 0f;
            else if (valid) dq[qRow + c] = 0f;
        }
        long at = (long)h * p.Tokens + i;
        float rowLse = valid ? RowLse(lse, at) : 0f, rowD = valid ? rowDot[at] : 0f;
        int lo = GpuFlashAttention.KeyLo(p, i0), hi = GpuFlashAttention.KeyHi(p, i0, nq);
        long kvStride = (long)p.KvHeads * d;
        for (int j0 = lo; j0 < hi; j0 += KTile)
        {
            int nk = XMath.Min(KTile, hi - j0);
            if (!GpuFlashAttention.SegmentsMeet(p, qSeg, kSeg, i0, nq, j0, nk)) continue;
            Group.Barrier();
            for (int e = t; e < nk * d; e += Rows)
            {
                long src = (j0 + e / d) * kvStride + (long)kvh * d + e % d;
                kT[e] = k[src];
                vT[e] = v[src];
            }
            Group.Barrier();
            if (!valid) continue;
            for (int jj = 0; jj < nk; jj++)
            {
                if (!GpuFlashAttention.Visible(p, qSeg, kSeg, i, j0 + jj)) continue;
                float s = 0f, dp = 0f;
                for (int c = 0; c < d; c++)
                {
                    s += rowsSh[qOff + c] * kT[jj * d + c];
                    dp += rowsSh[dOOff + c] * vT[jj * d + c];
                }
                float ds = XMath.Exp(s - rowLse) * (dp - rowD) * p.Scale;
                if (small)
                    for (int c = 0; c < d; c++) rowsSh[dqOff + c] += ds * kT[jj * d + c];
                else
                    for (int c = 0; c < d; c++) dq[qRow + c] += ds * kT[jj * d + c];
            }
        }
        if (small && valid)
            for (int c = 0; c < d; c++) dq[qRow + c] = rowsSh[dqOff + c];
    }
}
