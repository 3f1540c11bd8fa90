using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// Scaled-dot-product attention as one fused op (FlashAttention-2): o = softmax(scale·q·kᵀ + mask)·v
/// per head. q: [tokens, heads, headDim]; k, v: [kvLen, kvHeads, headDim] (GQA); o: [tokens, heads,
/// headDim]. The forward saves q, k, v, o and the per-row log-sum-exp [heads, tokens] (O(tokens), never
/// the score matrix); the backward kernel recomputes the scores tile by tile from them.
/// Segment ids (packed sequences) are not differentiable.
/// </summary>
internal sealed class AttentionFunction : Function
{
    private Tensor? _q, _k, _v, _o, _lse, _qSeg, _kSeg;
    private AttentionSettings _settings;

    public static Tensor Apply(Tensor q, Tensor k, Tensor v, in AttentionSettings settings, Tensor? querySegments, Tensor? keySegments)
    {
        if (q.Rank != 3) throw new ArgumentException($"Attention: q must be [tokens, heads, headDim], got {q.Describe()}.", nameof(q));
        var cq = q.Contiguous(); var ck = k.Contiguous(); var cv = v.Contiguous();
        var o = Tensor.Empty(q.Shape, DType.F32, q.Device);
        bool record = GradMode.IsEnabled && (q.RequiresGrad || k.RequiresGrad || v.RequiresGrad);
        var lse = record ? Tensor.Empty(new Shape(q.Shape[1], q.Shape[0]), DType.F32, q.Device) : null;
        q.Backend.Attention(cq, ck, cv, o, lse, settings, querySegments, keySegments);
        if (!record) return o;
        var fn = new AttentionFunction { _q = cq, _k = ck, _v = cv, _o = o, _lse = lse, _qSeg = querySegments, _kSeg = keySegments, _settings = settings };
        return Tape.Record(fn, o, q, k, v);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var q = _q!; var k = _k!;
        var dq = Tensor.Empty(q.Shape, DType.F32, q.Device);
        var dk = Tensor.Empty(k.Shape, DType.F32, k.Device);
        var dv = Tensor.Empty(k.Shape, DType.F32, k.Device);
        var cg = g.Contiguous();
        q.Backend.AttentionBackward(q, k, _v!, _o!, cg, _lse!, dq, dk, dv, _settings, _qSeg, _kSeg);
        if (!ReferenceEquals(cg, g)) cg.Dispose();
        return [NeedsGrad(0) ? dq : Drop(dq), NeedsGrad(1) ? dk : Drop(dk), NeedsGrad(2) ? dv : Drop(dv)];
    }

    private static Tensor? Drop(Tensor t) { t.Dispose(); return null; }

    protected internal override void ReleaseSaved()
    {
        _lse?.Dispose();
        _q = _k = _v = _o = _lse = _qSeg = _kSeg = null;
    }
}
