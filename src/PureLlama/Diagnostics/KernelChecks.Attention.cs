using PureLlama.Compute;
using PureLlama.Kernels;
using PureLlama.Kernels.Reference;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

/// <summary>One attention case of the kernel checks: sizes, mask and input dtype.</summary>
internal sealed record AttentionCase(int Tokens, int KvLen, int Heads, int KvHeads, int HeadDim, bool Causal = true, int Window = 0,
    int QueryOffset = 0, bool Segments = false, bool Bf16 = false, bool Backward = true)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"q[{Tokens},{Heads},{HeadDim}] kv[{KvLen},{KvHeads}]{(Causal ? " causal" : "")}{(Window > 0 ? $" window={Window}" : "")}"
        + $"{(QueryOffset > 0 ? $" offset={QueryOffset}" : "")}{(Segments ? " packed" : "")}{(Bf16 ? " bf16" : "")}{(Backward ? " fwd+bwd" : " fwd")}";
}

internal static partial class KernelChecks
{
    /// <summary>The attention cases of <see cref="For"/>: ragged lengths, masks, GQA 1/4/8, decode.</summary>
    public static IReadOnlyList<AttentionCase> AttentionCases(bool small) => small
        ? [
            new(1, 1, 2, 1, 8),
            new(17, 17, 4, 2, 16),
            new(19, 19, 2, 2, 8, Causal: false),
            new(20, 45, 4, 1, 8, Window: 9, QueryOffset: 25),
            new(33, 33, 8, 1, 8, Segments: true),
            new(9, 9, 2, 2, 16, Bf16: true),
            new(2, 150, 4, 1, 8, QueryOffset: 148, Backward: false),
            new(1, 600, 4, 2, 16, QueryOffset: 599, Backward: false),
        ]
        : [
            new(1, 1, 4, 1, 64),
            new(17, 17, 4, 4, 64),
            new(17, 17, 8, 1, 128, Causal: false),
            new(128, 128, 8, 2, 64, Window: 33),
            new(130, 130, 8, 1, 32, Segments: true),
            new(37, 100, 4, 2, 16, QueryOffset: 63),
            new(70, 70, 4, 4, 8, Causal: false, Segments: true),
            new(64, 64, 4, 2, 64, Bf16: true),
            new(1000, 1000, 4, 1, 64),
            new(1, 1500, 8, 2, 128, QueryOffset: 1499, Backward: false),
            new(3, 2100, 8, 8, 64, Window: 700, QueryOffset: 2097, Backward: false),
        ];

    /// <summary>
    /// Forward (o, lse) and backward (dq, dk, dv) against <see cref="ReferenceAttention"/>. BF16 cases
    /// round q, k, v to bf16 first and compare with the float64 reference on the rounded values.
    /// </summary>
    internal static KernelCheck Attention(AttentionCase c) => new("attention", c.ToString(), be =>
    {
        var rng = new Rng((ulong)Seed("attention", c.Tokens, c.KvLen, c.Heads, c.KvHeads, c.HeadDim, c.Window, c.QueryOffset));
        int d = c.HeadDim;
        var q = Random(rng, c.Tokens * c.Heads * d, -2, 2);
        var k = Random(rng, c.KvLen * c.KvHeads * d, -2, 2);
        var v = Random(rng, c.KvLen * c.KvHeads * d);
        var dO = Random(rng, c.Tokens * c.Heads * d);
        int[]? qSeg = null, kSeg = null;
        if (c.Segments) { kSeg = PackedSegments(c.KvLen); qSeg = kSeg[c.QueryOffset..(c.QueryOffset + c.Tokens)]; }
        var settings = AttentionSettings.For(d, c.Causal, c.Window, c.QueryOffset);
        var problem = new ReferenceAttention.Problem(c.Tokens, c.KvLen, c.Heads, c.KvHeads, d, settings.Scale, c.Causal, c.Window, c.QueryOffset, qSeg, kSeg);

        ushort[]? qb = null, kb = null, vb = null;
        if (c.Bf16) { qb = RoundBf16(q); kb = RoundBf16(k); vb = RoundBf16(v); }
        using var tq = c.Bf16 ? UploadBf16(be, qb!, c.Tokens, c.Heads, d) : Upload(be, q, c.Tokens, c.Heads, d);
        using var tk = c.Bf16 ? UploadBf16(be, kb!, c.KvLen, c.KvHeads, d) : Upload(be, k, c.KvLen, c.KvHeads, d);
        using var tv = c.Bf16 ? UploadBf16(be, vb!, c.KvLen, c.KvHeads, d) : Upload(be, v, c.KvLen, c.KvHeads, d);
        using var tqs = qSeg is null ? null : Upload(be, qSeg, c.Tokens);
        using var tks = kSeg is null ? null : Upload(be, kSeg, c.KvLen);
        using var o = Poisoned(be, c.Tokens, c.Heads, d);
        using var lse = Poisoned(be, c.Heads, c.Tokens);
        Timed(be, "fwd", AttentionWork(c, backward: false), () => be.Attention(tq, tk, tv, o, lse, settings, tqs, tks));

        var (oRef, lseRef) = ReferenceAttention.Forward(q, k, v, problem);
        string shape = c.ToString();
        double tol = c.KvLen >= 1000 ? LongTol : F32Tol;
        var results = new List<KernelCheckResult> { Compare("attention o", shape, o, oRef, tol), Compare("attention lse", shape, lse, lseRef, tol) };
        if (c.Backward)
        {
            using var tdO = Upload(be, dO, c.Tokens, c.Heads, d);
            using var dq = Poisoned(be, c.Tokens, c.Heads, d);
            using var dk = Poisoned(be, c.KvLen, c.KvHeads, d);
            using var dv = Poisoned(be, c.KvLen, c.KvHeads, d);
            Timed(be, "bwd", AttentionWork(c, backward: true), () => be.AttentionBackward(tq, tk, tv, o, tdO, lse, dq, dk, dv, settings, tqs, tks));
            var (dqRef, dkRef, dvRef) = ReferenceAttention.Backward(q, k, v, dO, problem);
            double gtol = c.KvLen >= 100 ? LongTol : F32Tol;
            results.Add(Compare("attention dq", shape, dq, dqRef, gtol));
            results.Add(Compare("attention dk", shape, dk, dkRef, gtol));
            results.Add(Compare("attention dv", shape, dv, dvRef, gtol));
        }
        return Worst([.. results]);
    });

    /// <summary>
    /// FLOPs of the visible score pairs: 4·d per pair forward (q·k and p·v), 10·d backward (FlashAttention-2's count with
    /// the recomputed scores); pairs counted by the causal/window rule (segments ignored).
    /// </summary>
    private static OpWork AttentionWork(AttentionCase c, bool backward)
    {
        long pairs = 0;
        for (int i = 0; i < c.Tokens; i++)
            pairs += Math.Max(0, AttentionRules.KeyEnd(c.QueryOffset + i, c.Causal ? 1 : 0, c.KvLen) - AttentionRules.FirstKey(c.QueryOffset + i, c.Window));
        return OpWork.Compute((backward ? 10.0 : 4.0) * c.HeadDim * c.Heads * pairs);
    }

    /// <summary>Non-decreasing segment ids of uneven lengths (a packed row of several examples, one of length 1).</summary>
    internal static int[] PackedSegments(int n)
    {
        var ids = new int[n];
        int[] lengths = [n / 3 + 1, 1, n / 4 + 2, 7];
        int id = 0, left = 0;
        for (int i = 0; i < n; i++)
        {
            if (left == 0) { left = lengths[id % lengths.Length]; id++; }
            ids[i] = id;
            left--;
        }
        return ids;
    }

    /// <summary>Rounds x to bf16 in place and returns the bits.</summary>
    private static ushort[] RoundBf16(float[] x)
    {
        var bits = Array.ConvertAll(x, ReferenceConvert.F32ToBf16);
        for (int i = 0; i < x.Length; i++) x[i] = (float)ReferenceConvert.Bf16ToDouble(bits[i]);
        return bits;
    }
}
