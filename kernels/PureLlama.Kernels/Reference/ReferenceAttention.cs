namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference: naive attention with explicit scores, softmax and weighted sum, and its backward.
/// q: [tokens, heads, d]; k, v: [kvLen, kvHeads, d]; o: [tokens, heads, d]; lse: [heads, tokens].
/// Query head h reads KV head h / (heads / kvHeads) (GQA). Query i sits at position queryOffset + i;
/// key j is visible to it when (!causal || j ≤ pos) and (window ≤ 0 || j > pos − window) and (no
/// segments || qSeg[i] == kSeg[j]).
///   s_ij = scale·q_i·k_j,  p_ij = exp(s_ij − lse_i),  lse_i = log Σ_j exp s_ij,  o_i = Σ_j p_ij v_j
/// A row with no visible key has o_i = 0 and lse_i = −∞.
/// </summary>
internal static class ReferenceAttention
{
    /// <summary>The mask and layout of one attention problem.</summary>
    public sealed record Problem(int Tokens, int KvLen, int Heads, int KvHeads, int HeadDim, double Scale,
        bool Causal = true, int Window = 0, int QueryOffset = 0, int[]? QuerySegments = null, int[]? KeySegments = null)
    {
        /// <summary>True when query i may attend to key j.</summary>
        public bool Visible(int i, int j)
        {
            if (!AttentionRules.Visible(QueryOffset + i, j, Causal ? 1 : 0, Window)) return false;
            if (QuerySegments is not null && KeySegments is not null && QuerySegments[i] != KeySegments[j]) return false;
            return true;
        }
    }

    /// <summary>Forward: (o [tokens, heads, d], lse [heads, tokens]).</summary>
    public static (double[] O, double[] Lse) Forward(float[] q, float[] k, float[] v, Problem p)
    {
        int d = p.HeadDim;
        var o = new double[(long)p.Tokens * p.Heads * d];
        var lse = new double[(long)p.Heads * p.Tokens];
        var probs = new double[p.KvLen];
        for (int h = 0; h < p.Heads; h++)
            for (int i = 0; i < p.Tokens; i++)
            {
                int kvh = AttentionRules.KvHead(h, p.Heads, p.KvHeads);
                double l = RowProbabilities(q, k, p, h, kvh, i, probs);
                lse[(long)h * p.Tokens + i] = l;
                long ob = ((long)i * p.Heads + h) * d;
                for (int j = 0; j < p.KvLen; j++)
                {
                    if (probs[j] == 0) continue;
                    long vb = ((long)j * p.KvHeads + kvh) * d;
                    for (int c = 0; c < d; c++) o[ob + c] += probs[j] * v[vb + c];
                }
            }
        return (o, lse);
    }

    /// <summary>
    /// Backward of the forward above for the loss gradient dO: dV_j = Σ_i p_ij dO_i, dp_ij = dO_i·v_j,
    /// ds_ij = p_ij (dp_ij − Σ_j' p_ij' dp_ij'), dQ_i = scale Σ_j ds_ij k_j, dK_j = scale Σ_i ds_ij q_i
    /// (dK, dV of a KV head summed over its query-head group).
    /// </summary>
    public static (double[] Dq, double[] Dk, double[] Dv) Backward(float[] q, float[] k, float[] v, float[] dO, Problem p)
    {
        int d = p.HeadDim;
        var dq = new double[q.Length];
        var dk = new double[k.Length];
        var dv = new double[v.Length];
        var probs = new double[p.KvLen];
        var dp = new double[p.KvLen];
        for (int h = 0; h < p.Heads; h++)
            for (int i = 0; i < p.Tokens; i++)
            {
                int kvh = AttentionRules.KvHead(h, p.Heads, p.KvHeads);
                RowProbabilities(q, k, p, h, kvh, i, probs);
                long qb = ((long)i * p.Heads + h) * d;
                double rowDot = 0;
                for (int j = 0; j < p.KvLen; j++)
                {
                    dp[j] = 0;
                    if (probs[j] == 0) continue;
                    long vb = ((long)j * p.KvHeads + kvh) * d;
                    double s = 0;
                    for (int c = 0; c < d; c++) { s += (double)dO[qb + c] * v[vb + c]; dv[vb + c] += probs[j] * dO[qb + c]; }
                    dp[j] = s;
                    rowDot += probs[j] * s;
                }
                for (int j = 0; j < p.KvLen; j++)
                {
                    if (probs[j] == 0) continue;
                    double ds = probs[j] * (dp[j] - rowDot) * p.Scale;
                    long kb = ((long)j * p.KvHeads + kvh) * d;
                    for (int c = 0; c < d; c++) { dq[qb + c] += ds * k[kb + c]; dk[kb + c] += ds * q[qb + c]; }
                }
            }
        return (dq, dk, dv);
    }

    /// <summary>Fills probs[j] = p_ij for query i of head h (0 where masked); returns lse_i.</summary>
    private static double RowProbabilities(float[] q, float[] k, Problem p, int h, int kvh, int i, double[] probs)
    {
        int d = p.HeadDim;
        long qb = ((long)i * p.Heads + h) * d;
        double max = double.NegativeInfinity;
        for (int j = 0; j < p.KvLen; j++)
        {
            if (!p.Visible(i, j)) { probs[j] = double.NegativeInfinity; continue; }
            long kb = ((long)j * p.KvHeads + kvh) * d;
            double s = 0;
            for (int c = 0; c < d; c++) s += (double)q[qb + c] * k[kb + c];
            probs[j] = s * p.Scale;
            max = Math.Max(max, probs[j]);
        }
        if (double.IsNegativeInfinity(max)) { Array.Clear(probs); return double.NegativeInfinity; }
        double sum = 0;
        for (int j = 0; j < p.KvLen; j++) sum += Math.Exp(probs[j] - max);
        double lse = max + Math.Log(sum);
        for (int j = 0; j < p.KvLen; j++) probs[j] = Math.Exp(probs[j] - lse);
        return lse;
    }
}
