using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// FlashAttention-2 backward on the CPU: scores are recomputed tile by tile from Q, K and the saved
/// lse, never stored whole.
/// <code>
///   D_i  = Σ_c dO_ic·O_ic                                   (once, [heads, tokens])
///   P    = exp(scale·Q·Kᵀ − lse),   dP = dO·Vᵀ,   dS = P ∘ (dP − D)
///   dV  += Pᵀ·dO,   dK += dSᵀ·(scale·Q),   dQ += scale·dS·K
/// </code>
/// Deterministic without atomics: pass 1 is parallel over (KV head, key tile) — each work item owns
/// its dK/dV rows and walks every query block of every head in its group (so GQA's sum over the
/// group happens in registers, in a fixed order); pass 2 is parallel over (query block, KV head) and
/// owns its dQ rows, recomputing P and dS. The price is two extra tile products (S and dP are
/// computed in both passes: 7 instead of 5), paid for bit-for-bit repeatable gradients.
/// </summary>
public static unsafe partial class SimdFlashAttention
{
    private static void Backward<TQ, TKV>(TQ q, TKV k, TKV v, float* o, float* dO, float* lse, float* dq, float* dk, float* dv, AttentionProblem p)
        where TQ : IFloatSource where TKV : IFloatSource
    {
        int T = p.Tokens, H = p.Heads, d = p.HeadDim;
        float* rowDot = (float*)NativeMemory.AlignedAlloc((nuint)((long)H * T * sizeof(float)), 64);  // D: [heads, tokens]
        try
        {
            ParallelWork.Rows(T, (long)H * d, (t0, t1) =>
            {
                for (int i = t0; i < t1; i++)
                    for (int h = 0; h < H; h++)
                    {
                        long off = ((long)i * H + h) * d;
                        rowDot[(long)h * T + i] = SimdReduce.Dot(dO + off, o + off, d);
                    }
            });
            int kTiles = (p.KvLen + Tile - 1) / Tile;
            ForEachItem(kTiles * p.KvHeads, d, (item, s) =>
                KeyTileGradients(q, k, v, dO, lse, rowDot, dk, dv, p, item % p.KvHeads, (item / p.KvHeads) * Tile, s));
            int qpb = p.QueriesPerBlock, qBlocks = (T + qpb - 1) / qpb;
            ForEachItem(qBlocks * p.KvHeads, d, (item, s) =>
            {
                int qb = qBlocks - 1 - item / p.KvHeads;
                QueryBlockGradient(q, k, v, dO, lse, rowDot, dq, p, item % p.KvHeads, qb * qpb, Math.Min(qpb, T - qb * qpb), s);
            });
        }
        finally { NativeMemory.AlignedFree(rowDot); }
    }

    /// <summary>Pass 1: dK, dV rows of keys [j0, j0+64) of KV head kvh, summed over every query of its group.</summary>
    private static void KeyTileGradients<TQ, TKV>(TQ q, TKV k, TKV v, float* dO, float* lse, float* rowDot, float* dk, float* dv,
        in AttentionProblem p, int kvh, int j0, Scratch s) where TQ : IFloatSource where TKV : IFloatSource
    {
        int d = p.HeadDim, nk = Math.Min(Tile, p.KvLen - j0), nk4 = Round4(nk);
        float* kt = s.A, vt = s.B, qp = s.C, dop = s.D, dkAcc = s.E, dvAcc = s.F, sc = s.S1, dp = s.S2, lseRow = s.V1, dRow = s.V2;
        PackKeyCols(k, p, kvh, j0, nk, kt);                                 // Kᵀ: [d, 64]
        PackKeyCols(v, p, kvh, j0, nk, vt);                                 // Vᵀ: [d, 64]
        new Span<float>(dkAcc, nk4 * d).Clear();
        new Span<float>(dvAcc, nk4 * d).Clear();

        // Queries whose position can reach this tile: pos ≥ j0 (causal), pos < jMax + window (window).
        int jMax = j0 + nk - 1, iLo = 0, iHi = p.Tokens;
        if (p.Causal) iLo = Math.Clamp(j0 - p.QueryOffset, 0, p.Tokens);
        if (p.Window > 0) iHi = Math.Clamp(jMax + p.Window - p.QueryOffset, 0, p.Tokens);
        int qpb = p.QueriesPerBlock;
        var dOsrc = new F32Source(dO);
        for (int i0 = iLo / qpb * qpb; i0 < iHi; i0 += qpb)
        {
            int nq = Math.Min(qpb, p.Tokens - i0), rows = nq * p.Group, rows4 = Round4(rows);
            int kind = Classify(p, i0, nq, j0, nk);
            if (kind == Skip) continue;
            PackQueryRows(q, p, kvh, i0, rows, rows4, p.Scale, qp);         // scale·Q: [rows4, d]
            PackQueryRows(dOsrc, p, kvh, i0, rows, rows4, 1f, dop);         // dO: [rows4, d]
            LoadRowStats(p, kvh, i0, rows, lse, rowDot, lseRow, dRow);
            ScoresTile(qp, rows4, d, kt, sc);                               // S: [rows4, 64]
            ScoresTile(dop, rows4, d, vt, dp);                              // dP: [rows4, 64]
            if (kind == Partial)
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < nk; j++)
                        if (!p.Visible(i0 + r / p.Group, j0 + j)) sc[r * Tile + j] = float.NegativeInfinity;
            for (int r = 0; r < rows4; r++)
            {
                var l = Vector512.Create(lseRow[r]);
                var dr = Vector512.Create(dRow[r]);
                for (int c = 0; c < Tile; c += 16)
                {
                    float* ps = sc + r * Tile + c, pd = dp + r * Tile + c;
                    var pr = Vector512.Exp(Vector512.Load(ps) - l);
                    pr.Store(ps);
                    (pr * (Vector512.Load(pd) - dr)).Store(pd);
                }
            }
            AccumulateAB(sc, 1, Tile, nk4, rows, dop, d, dvAcc);            // dV += Pᵀ·dO
            AccumulateAB(dp, 1, Tile, nk4, rows, qp, d, dkAcc);             // dK += dSᵀ·(scale·Q)
        }
        long stride = (long)p.KvHeads * d;
        for (int j = 0; j < nk; j++)
        {
            long off = (j0 + j) * stride + (long)kvh * d;
            new ReadOnlySpan<float>(dkAcc + (long)j * d, d).CopyTo(new Span<float>(dk + off, d));
            new ReadOnlySpan<float>(dvAcc + (long)j * d, d).CopyTo(new Span<float>(dv + off, d));
        }
    }

    /// <summary>Pass 2: dQ rows of one query block (queries [i0, i0+nq) × the group of kvh).</summary>
    private static void QueryBlockGradient<TQ, TKV>(TQ q, TKV k, TKV v, float* dO, float* lse, float* rowDot, float* dq,
        in AttentionProblem p, int kvh, int i0, int nq, Scratch s) where TQ : IFloatSource where TKV : IFloatSource
    {
        int d = p.HeadDim, rows = nq * p.Group, rows4 = Round4(rows);
        float* qt = s.A, dot = s.B, kp = s.C, vp = s.D, dqAcc = s.E, st = s.S1, dpt = s.S2, lseCol = s.V1, dCol = s.V2;
        PackQueryCols(q, p, kvh, i0, rows, p.Scale, qt);                    // (scale·Q)ᵀ: [d, 64]
        PackQueryCols(new F32Source(dO), p, kvh, i0, rows, 1f, dot);        // dOᵀ: [d, 64]
        LoadRowStats(p, kvh, i0, rows, lse, rowDot, lseCol, dCol);
        new Span<float>(dqAcc, rows4 * d).Clear();
        var (lo, hi) = KeyRange(p, i0, nq, 0, p.KvLen);
        for (int j0 = lo; j0 < hi; j0 += Tile)
        {
            int nk = Math.Min(Tile, hi - j0), nk4 = Round4(nk);
            int kind = Classify(p, i0, nq, j0, nk);
            if (kind == Skip) continue;
            PackKeyRows(k, p, kvh, j0, nk, nk4, kp);                       // K_t: [nk4, d]
            PackKeyRows(v, p, kvh, j0, nk, nk4, vp);                       // V_t: [nk4, d]
            ScoresTile(kp, nk4, d, qt, st);                                 // Sᵀ: [nk4, 64]
            ScoresTile(vp, nk4, d, dot, dpt);                               // dPᵀ: [nk4, 64]
            if (kind == Partial) MaskTransposed(p, i0, rows, j0, nk, st);
            for (int j = 0; j < nk; j++)
                for (int c = 0; c < Tile; c += 16)
                {
                    float* ps = st + j * Tile + c;
                    var pr = Vector512.Exp(Vector512.Load(ps) - Vector512.Load(lseCol + c));
                    (pr * (Vector512.Load(dpt + j * Tile + c) - Vector512.Load(dCol + c))).Store(ps);   // dSᵀ
                }
            AccumulateAB(st, 1, Tile, rows4, nk, kp, d, dqAcc);             // dQ += dS·K_t
        }
        for (int r = 0; r < rows; r++)
        {
            float* dst = dq + QueryRowOffset(p, kvh, i0, r);
            new ReadOnlySpan<float>(dqAcc + (long)r * d, d).CopyTo(new Span<float>(dst, d));
            ScaleRow(dst, d, p.Scale);
        }
    }

    /// <summary>
    /// lse and D of the block rows into 64-vectors; rows past the block and rows that saw no key get
    /// lse = +∞ so that every recomputed probability exp(s − lse) of theirs is 0.
    /// </summary>
    private static void LoadRowStats(in AttentionProblem p, int kvh, int i0, int rows, float* lse, float* rowDot, float* lseOut, float* dOut)
    {
        int g = p.Group;
        for (int r = 0; r < Tile; r++)
        {
            if (r >= rows) { lseOut[r] = float.PositiveInfinity; dOut[r] = 0; continue; }
            long at = (long)(kvh * g + r % g) * p.Tokens + i0 + r / g;
            float l = lse[at];
            lseOut[r] = float.IsNegativeInfinity(l) ? float.PositiveInfinity : l;
            dOut[r] = rowDot[at];
        }
    }
}
