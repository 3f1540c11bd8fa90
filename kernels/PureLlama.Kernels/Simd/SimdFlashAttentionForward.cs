using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// FlashAttention-2 forward on the CPU.
/// <code>
/// For one block of rows (queries i0..i0+nq × the group's heads of KV head kvh, ≤ 64 rows) and each
/// visible key tile K_t, V_t (64 keys):
///   Sᵀ   = K_t · (scale·Q)ᵀ                                [64 keys, rows]   (ScoresTile)
///   m'   = max(m, max_j Sᵀ[j, :])                          per row
///   Pᵀ   = exp(Sᵀ − m'),   α = exp(m − m')
///   l    = α·l + Σ_j Pᵀ[j, :],   O = α·O + P·V_t,   m = m'  (AccumulateAB reads Pᵀ through strides)
/// and once at the end:  O /= l,  lse = m + log l  (saved for the backward).
/// </code>
/// Scores are kept transposed (keys × rows) so the softmax statistics are column vectors updated
/// with whole-register max/exp/add, Q is transposed once per block, and each key tile is packed
/// with plain row copies. Tiles no query of the block can see (causal, window, other segments) are
/// skipped; tiles partly visible are masked element by element. Parallel over (query block, KV head),
/// longest (last) blocks first. GQA: a block's rows are its queries × the group's heads, so every
/// K/V tile is packed once for the whole group. Per-thread memory: <see cref="Scratch"/>.
/// </summary>
public static unsafe partial class SimdFlashAttention
{
    private static void Forward<TQ, TKV>(TQ q, TKV k, TKV v, float* o, float* lse, AttentionProblem p)
        where TQ : IFloatSource where TKV : IFloatSource
    {
        int qpb = p.QueriesPerBlock, qBlocks = (p.Tokens + qpb - 1) / qpb;
        if (qBlocks == 1 && p.KvLen >= 2 * DecodeChunk)
        {
            DecodeSplit(q, k, v, o, lse, p);
            return;
        }
        ForEachItem(qBlocks * p.KvHeads, p.HeadDim, (item, s) =>
        {
            int qb = qBlocks - 1 - item / p.KvHeads, kvh = item % p.KvHeads;
            int i0 = qb * qpb, nq = Math.Min(qpb, p.Tokens - i0);
            ForwardBlock(q, k, v, p, kvh, i0, nq, 0, p.KvLen, s);
            WriteBlock(p, kvh, i0, nq, s.D, s.V1, o, lse);
        });
    }

    /// <summary>
    /// Attention of one block over keys [kBegin, kEnd): leaves the normalised output rows in s.D
    /// ([rows, d]) and each row's lse in s.V1 (−∞ and a zero row where no key is visible).
    /// </summary>
    internal static void ForwardBlock<TQ, TKV>(TQ q, TKV k, TKV v, in AttentionProblem p, int kvh, int i0, int nq, int kBegin, int kEnd, Scratch s)
        where TQ : IFloatSource where TKV : IFloatSource
    {
        int d = p.HeadDim, g = p.Group, rows = nq * g, rows4 = Round4(rows);
        float* qt = s.A, kp = s.B, vp = s.C, st = s.S1, acc = s.D, m = s.V1, l = s.V2, alpha = s.V3;
        PackQueryCols(q, p, kvh, i0, rows, p.Scale, qt);                    // (scale·Q)ᵀ: [d, 64]
        new Span<float>(acc, rows4 * d).Clear();                            // O: [rows4, d]
        new Span<float>(m, Tile).Fill(float.NegativeInfinity);
        new Span<float>(l, Tile).Clear();

        var (lo, hi) = KeyRange(p, i0, nq, kBegin, kEnd);
        for (int j0 = lo; j0 < hi; j0 += Tile)
        {
            int nk = Math.Min(Tile, hi - j0), nk4 = Round4(nk);
            int kind = Classify(p, i0, nq, j0, nk);
            if (kind == Skip) continue;
            PackKeyRows(k, p, kvh, j0, nk, nk4, kp);                       // K_t: [nk4, d]
            PackKeyRows(v, p, kvh, j0, nk, nk4, vp);                       // V_t: [nk4, d]
            ScoresTile(kp, nk4, d, qt, st);                                 // Sᵀ: [nk4, 64]
            if (kind == Partial) MaskTransposed(p, i0, rows, j0, nk, st);
            OnlineSoftmax(st, nk, m, l, alpha);
            for (int r = 0; r < rows4; r++)
            {
                float a = alpha[r];
                if (a != 1f) ScaleRow(acc + (long)r * d, d, a);
            }
            AccumulateAB(st, 1, Tile, rows4, nk, vp, d, acc);               // O += P·V_t
        }

        for (int r = 0; r < rows; r++)
        {
            float lr = l[r];
            if (lr == 0f) { new Span<float>(acc + (long)r * d, d).Clear(); m[r] = float.NegativeInfinity; continue; }
            ScaleRow(acc + (long)r * d, d, 1f / lr);
            m[r] += MathF.Log(lr);                                          // lse = m + log l
        }
    }

    /// <summary>Scatters block rows (query-major, head-minor) to o [tokens, heads, d] and lse [heads, tokens].</summary>
    internal static void WriteBlock(in AttentionProblem p, int kvh, int i0, int nq, float* rowsOut, float* rowLse, float* o, float* lse)
    {
        int d = p.HeadDim, g = p.Group;
        for (int r = 0; r < nq * g; r++)
        {
            new ReadOnlySpan<float>(rowsOut + (long)r * d, d).CopyTo(new Span<float>(o + QueryRowOffset(p, kvh, i0, r), d));
            if (lse != null) lse[(long)(kvh * g + r % g) * p.Tokens + i0 + r / g] = rowLse[r];
        }
    }

    /// <summary>Sets Sᵀ[j, r] = −∞ where query row r cannot see key j0 + j.</summary>
    internal static void MaskTransposed(in AttentionProblem p, int i0, int rows, int j0, int nk, float* st)
    {
        int g = p.Group;
        for (int j = 0; j < nk; j++)
            for (int r = 0; r < rows; r++)
                if (!p.Visible(i0 + r / g, j0 + j)) st[j * Tile + r] = float.NegativeInfinity;
    }

    /// <summary>
    /// Online-softmax step over a transposed score tile st [nk, 64] (columns = rows of the block):
    /// m' = max(m, max_j st[j]); st ← exp(st − m'); α = exp(m − m'); l = α·l + Σ_j st[j]; m = m'.
    /// A column with nothing visible yet keeps m = −∞ and gets zeros.
    /// </summary>
    private static void OnlineSoftmax(float* st, int nk, float* m, float* l, float* alpha)
    {
        var negInf = Vector512.Create(float.NegativeInfinity);
        for (int c = 0; c < Tile; c += 16)
        {
            var mOld = Vector512.Load(m + c);
            var mx = mOld;
            for (int j = 0; j < nk; j++) mx = Vector512.Max(mx, Vector512.Load(st + j * Tile + c));
            var safe = Vector512.ConditionalSelect(Vector512.Equals(mx, negInf), Vector512<float>.Zero, mx);
            var a = Vector512.Exp(mOld - safe);
            var sum = Vector512<float>.Zero;
            for (int j = 0; j < nk; j++)
            {
                var e = Vector512.Exp(Vector512.Load(st + j * Tile + c) - safe);
                e.Store(st + j * Tile + c);
                sum += e;
            }
            Vector512.FusedMultiplyAdd(Vector512.Load(l + c), a, sum).Store(l + c);
            mx.Store(m + c);
            a.Store(alpha + c);
        }
    }

    internal static void ScaleRow(float* x, int d, float a)
    {
        var va = Vector512.Create(a);
        int c = 0;
        for (; c + 16 <= d; c += 16) (Vector512.Load(x + c) * va).Store(x + c);
        for (; c + 8 <= d; c += 8) (Vector256.Load(x + c) * Vector256.Create(a)).Store(x + c);
    }
}
