using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd)
    {
        var (rows, dim) = LayerChecks.RmsNorm(this, x, weight, y, rstd);
        if (weight.DType == DType.BF16) SimdRmsNorm.Forward(x.Pointer<float>(), weight.Pointer<ushort>(), y.Pointer<float>(), rstd.Pointer<float>(), rows, dim, eps);
        else SimdRmsNorm.Forward(x.Pointer<float>(), weight.Pointer<float>(), y.Pointer<float>(), rstd.Pointer<float>(), rows, dim, eps);
    }

    /// <inheritdoc/>
    public void RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dWeight)
    {
        var (rows, dim) = LayerChecks.RmsNormBackward(this, dy, x, weight, rstd, dx, dWeight);
        if (weight.DType == DType.BF16)
            SimdRmsNorm.Backward(dy.Pointer<float>(), x.Pointer<float>(), weight.Pointer<ushort>(), rstd.Pointer<float>(), dx.Pointer<float>(), dWeight.Pointer<float>(), rows, dim);
        else
            SimdRmsNorm.Backward(dy.Pointer<float>(), x.Pointer<float>(), weight.Pointer<float>(), rstd.Pointer<float>(), dx.Pointer<float>(), dWeight.Pointer<float>(), rows, dim);
    }

    /// <inheritdoc/>
    public void Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin, Tensor y, bool inverse)
    {
        var (tokens, heads, headDim) = LayerChecks.Rope(this, x, positions, cos, sin, y);
        LayerChecks.IndicesInRange(positions.Pointer<int>(), tokens, cos.Shape[0], "positions", "the RoPE table length");
        SimdRope.Apply(x.Pointer<float>(), y.Pointer<float>(), tokens, heads, headDim, positions.Pointer<int>(), cos.Pointer<float>(), sin.Pointer<float>(), inverse);
    }

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor x, Tensor y)
    {
        LayerChecks.Unary(this, x, y);
        op.Simd(x.Pointer<float>(), y.Pointer<float>(), x.Numel);
    }

    /// <inheritdoc/>
    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx)
    {
        LayerChecks.Unary(this, x, dy);
        LayerChecks.Unary(this, x, dx);
        op.SimdBackward(x.Pointer<float>(), dy.Pointer<float>(), dx.Pointer<float>(), x.Numel);
    }

    /// <inheritdoc/>
    public void Gated(UnaryOp op, Tensor gate, Tensor up, Tensor y)
    {
        LayerChecks.Unary(this, gate, up);
        LayerChecks.Unary(this, gate, y);
        op.SimdGated(gate.Pointer<float>(), up.Pointer<float>(), y.Pointer<float>(), gate.Numel);
    }

    /// <inheritdoc/>
    public void GatedBackward(UnaryOp op, Tensor gate, Tensor up, Tensor dy, Tensor dGate, Tensor dUp)
    {
        LayerChecks.Unary(this, gate, up);
        LayerChecks.Unary(this, gate, dy);
        LayerChecks.Unary(this, gate, dGate);
        LayerChecks.Unary(this, gate, dUp);
        op.SimdGatedBackward(gate.Pointer<float>(), up.Pointer<float>(), dy.Pointer<float>(), dGate.Pointer<float>(), dUp.Pointer<float>(), gate.Numel);
    }

    /// <inheritdoc/>
    public void Softmax(Tensor x, Tensor y)
    {
        var (rows, cols) = LayerChecks.Rows(this, x, y);
        SimdSoftmax.Forward(x.Pointer<float>(), y.Pointer<float>(), rows, cols);
    }

    /// <inheritdoc/>
    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx)
    {
        var (rows, cols) = LayerChecks.Rows(this, y, dy);
        LayerChecks.Rows(this, y, dx);
        SimdSoftmax.Backward(y.Pointer<float>(), dy.Pointer<float>(), dx.Pointer<float>(), rows, cols);
    }

    /// <inheritdoc/>
    public void CrossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor loss, Tensor lse)
    {
        var (rows, vocab) = LayerChecks.CrossEntropy(this, logits, targets, loss, lse);
        LayerChecks.TargetsInRange(targets.Pointer<int>(), rows, vocab, ignoreIndex);
        SimdCrossEntropy.Forward(logits.Pointer<float>(), targets.Pointer<int>(), loss.Pointer<float>(), lse.Pointer<float>(), rows, vocab, ignoreIndex);
    }

    /// <inheritdoc/>
    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, int ignoreIndex, float scale, Tensor dLogits)
    {
        var (rows, vocab) = LayerChecks.CrossEntropy(this, logits, targets, lse, lse);
        LayerChecks.Unary(this, logits, dLogits);
        LayerChecks.TargetsInRange(targets.Pointer<int>(), rows, vocab, ignoreIndex);
        SimdCrossEntropy.Backward(logits.Pointer<float>(), targets.Pointer<int>(), lse.Pointer<float>(), dLogits.Pointer<float>(), rows, vocab, ignoreIndex, scale);
    }

    /// <inheritdoc/>
    public void EmbeddingGather(Tensor table, Tensor ids, Tensor y)
    {
        var (n, dim) = LayerChecks.Embedding(this, table, ids, y, gather: true);
        LayerChecks.IndicesInRange(ids.Pointer<int>(), n, table.Shape[0], "ids", "the vocabulary size");
        if (table.DType == DType.BF16) SimdEmbedding.Gather(table.Pointer<ushort>(), ids.Pointer<int>(), y.Pointer<float>(), n, dim);
        else SimdEmbedding.Gather(table.Pointer<float>(), ids.Pointer<int>(), y.Pointer<float>(), n, dim);
    }

    /// <inheritdoc/>
    public void EmbeddingScatterAdd(Tensor dy, Tensor ids, Tensor dTable)
    {
        var (n, dim) = LayerChecks.Embedding(this, dTable, ids, dy, gather: false);
        LayerChecks.IndicesInRange(ids.Pointer<int>(), n, dTable.Shape[0], "ids", "the vocabulary size");
        SimdEmbedding.ScatterAdd(dy.Pointer<float>(), ids.Pointer<int>(), dTable.Pointer<float>(), n, dim);
    }

    /// <inheritdoc/>
    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, in AdamWSettings s, int step)
    {
        LayerChecks.AdamW(this, param, grad, m, v, step);
        SimdAdamW.Step(param.Pointer<float>(), grad.Pointer<float>(), m.Pointer<float>(), v.Pointer<float>(), param.Numel,
            s.LearningRate, s.Beta1, s.Beta2, s.Eps, s.WeightDecay, step);
    }

    /// <inheritdoc/>
    public void AdamW8bit(Tensor param, Tensor grad, Tensor mCodes, Tensor mAbsmax, Tensor vCodes, Tensor vAbsmax, in AdamWSettings s, int step)
    {
        LayerChecks.AdamW8bit(this, param, grad, mCodes, mAbsmax, vCodes, vAbsmax, step);
        Kernels.Simd.SimdAdamW8bit.Step(param.Pointer<float>(), grad.Pointer<float>(), mCodes.Pointer<byte>(), mAbsmax.Pointer<float>(), vCodes.Pointer<byte>(), vAbsmax.Pointer<float>(),
            param.Numel, s.LearningRate, s.Beta1, s.Beta2, s.Eps, s.WeightDecay, step);
    }
}
