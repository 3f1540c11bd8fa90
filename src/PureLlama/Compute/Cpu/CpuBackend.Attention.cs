using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor output, Tensor? lse, in AttentionSettings settings,
        Tensor? querySegments = null, Tensor? keySegments = null)
    {
        var n = LayerChecks.Attention(this, q, k, v, output, lse, settings, querySegments, keySegments);
        var p = Problem(n, settings, querySegments, keySegments);
        SimdFlashAttention.Forward(Input(q), Input(k), Input(v), output.Pointer<float>(), lse is null ? null : lse.Pointer<float>(), p);
    }

    /// <inheritdoc/>
    public void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor dOutput, Tensor lse,
        Tensor dq, Tensor dk, Tensor dv, in AttentionSettings settings, Tensor? querySegments = null, Tensor? keySegments = null)
    {
        var n = LayerChecks.AttentionBackward(this, q, k, v, output, dOutput, lse, dq, dk, dv, settings, querySegments, keySegments);
        var p = Problem(n, settings, querySegments, keySegments);
        SimdFlashAttention.Backward(Input(q), Input(k), Input(v), output.Pointer<float>(), dOutput.Pointer<float>(), lse.Pointer<float>(),
            dq.Pointer<float>(), dk.Pointer<float>(), dv.Pointer<float>(), p);
    }

    private static AttentionProblem Problem(LayerChecks.AttentionSizes n, in AttentionSettings s, Tensor? qSeg, Tensor? kSeg) =>
        new(n.Tokens, n.KvLen, n.Heads, n.KvHeads, n.HeadDim, s.Scale, s.Causal, s.Window, s.QueryOffset,
            qSeg is null ? null : qSeg.Pointer<int>(), kSeg is null ? null : kSeg.Pointer<int>());

    private static AttentionInput Input(Tensor t) => new(t.Pointer<byte>(), t.DType == DType.BF16);
}
