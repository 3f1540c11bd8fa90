using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd)
    {
        var (rows, dim) = LayerChecks.RmsNorm(this, x, weight, y, rstd);
        if (rows == 0 || dim == 0) return;
        if (weight.DType == DType.BF16) GpuRmsNorm.Forward(Stream, F(x), U16(weight), F(y), F(rstd), rows, dim, eps);
        else GpuRmsNorm.Forward(Stream, F(x), F(weight), F(y), F(rstd), rows, dim, eps);
    }

    /// <inheritdoc/>
    public void RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dWeight)
    {
        var (rows, dim) = LayerChecks.RmsNormBackward(this, dy, x, weight, rstd, dx, dWeight);
        if (rows == 0 || dim == 0) return;
        if (weight.DType == DType.BF16) GpuRmsNorm.Backward(Stream, F(dy), F(x), U16(weight), F(rstd), F(dx), F(dWeight), rows, dim);
        else GpuRmsNorm.Backward(Stream, F(dy), F(x), F(weight), F(rstd), F(dx), F(dWeight), rows, dim);
    }

    /// <inheritdoc/>
    public void Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin, Tensor y, bool inverse)
    {
        var (tokens, heads, headDim) = LayerChecks.Rope(this, x, positions, cos, sin, y);
        if (x.Numel == 0) return;
        CheckIndices(positions, tokens, cos.Shape[0], "positions", "the RoPE table length");
        GpuRope.Apply(Stream, F(x), F(y), tokens, heads, headDim, I32(positions), F(cos), F(sin), inverse);
    }

    /// <inheritdoc/>
    public void Unary(UnaryOp op, Tensor x, Tensor y)
    {
        LayerChecks.Unary(this, x, y);
        if (x.Numel == 0) return;
        op.Gpu(Stream, F(x), F(y), x.Numel);
    }

    /// <inheritdoc/>
    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx)
    {
        LayerChecks.Unary(this, x, dy);
        LayerChecks.Unary(this, x, dx);
        if (x.Numel == 0) return;
        op.GpuBackward(Stream, F(x), F(dy), F(dx), x.Numel);
    }

    /// <inheritdoc/>
    public void Gated(UnaryOp op, Tensor gate, Tensor up, Tensor y)
    {
        LayerChecks.Unary(this, gate, up);
        LayerChecks.Unary(this, gate, y);
        if (gate.Numel == 0) return;
        op.GpuGated(Stream, F(gate), F(up), F(y), gate.Numel);
    }

    /// <inheritdoc/>
    public void GatedBackward(UnaryOp op, Tensor gate, Tensor up, Tensor dy, Tensor dGate, Tensor dUp)
    {
        LayerChecks.Unary(this, gate, up);
        LayerChecks.Unary(this, gate, dy);
        LayerChecks.Unary(this, gate, dGate);
        LayerChecks.Unary(this, gate, dUp);
        if (gate.Numel == 0) return;
        op.GpuGatedBackward(Stream, F(gate), F(up), F(dy), F(dGate), F(dUp), gate.Numel);
    }

    /// <inheritdoc/>
    public void Softmax(Tensor x, Tensor y)
    {
        var (rows, cols) = LayerChecks.Rows(this, x, y);
        if (rows == 0 || cols == 0) return;
        GpuSoftmax.Forward(Stream, F(x), F(y), rows, cols);
    }

    /// <inheritdoc/>
    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx)
    {
        var (rows, cols) = LayerChecks.Rows(this, y, dy);
        LayerChecks.Rows(this, y, dx);
        if (rows == 0 || cols == 0) return;
        GpuSoftmax.Backward(Stream, F(y), F(dy), F(dx), rows, cols);
    }

    /// <inheritdoc/>
    public void CrossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor loss, Tensor lse)
    {
        var (rows, vocab) = LayerChecks.CrossEntropy(this, logits, targets, loss, lse);
        if (rows == 0) return;
        CheckTargets(targets, rows, vocab, ignoreIndex);
        GpuCrossEntropy.Forward(Stream, F(logits), I32(targets), F(loss), F(lse), rows, vocab, ignoreIndex);
    }

    /// <inheritdoc/>
    public void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, int ignoreIndex, float scale, Tensor dLogits)
    {
        var (rows, vocab) = LayerChecks.CrossEntropy(this, logits, targets, lse, lse);
        LayerChecks.Unary(this, logits, dLogits);
        if (rows == 0) return;
        CheckTargets(targets, rows, vocab, ignoreIndex);
        GpuCrossEntropy.Backward(Stream, F(logits), I32(targets), F(lse), F(dLogits), rows, vocab, ignoreIndex, scale);
    }

    /// <inheritdoc/>
    public void EmbeddingGather(Tensor table, Tensor ids, Tensor y)
    {
        var (n, dim) = LayerChecks.Embedding(this, table, ids, y, gather: true);
        if (n == 0 || dim == 0) return;
        CheckIndices(ids, n, table.Shape[0], "ids", "the vocabulary size");
        if (table.DType == DType.BF16) GpuEmbedding.Gather(Stream, U16(table), I32(ids), F(y), n, dim);
        else GpuEmbedding.Gather(Stream, F(table), I32(ids), F(y), n, dim);
    }

    /// <inheritdoc/>
    public void EmbeddingScatterAdd(Tensor dy, Tensor ids, Tensor dTable)
    {
        var (n, dim) = LayerChecks.Embedding(this, dTable, ids, dy, gather: false);
        if (n == 0 || dim == 0) return;
        CheckIndices(ids, n, dTable.Shape[0], "ids", "the vocabulary size");
        GpuEmbedding.ScatterAdd(Stream, F(dy), I32(ids), F(dTable), n, dim);
    }

    /// <inheritdoc/>
    public void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, in AdamWSettings s, int step)
    {
        LayerChecks.AdamW(this, param, grad, m, v, step);
        if (param.Numel == 0) return;
        GpuAdamW.Step(Stream, F(param), F(grad), F(m), F(v), param.Numel, s.LearningRate, s.Beta1, s.Beta2, s.Eps, s.WeightDecay, step);
    }

    /// <inheritdoc/>
    public void AdamW8bit(Tensor param, Tensor grad, Tensor mCodes, Tensor mAbsmax, Tensor vCodes, Tensor vAbsmax, in AdamWSettings s, int step)
    {
        LayerChecks.AdamW8bit(this, param, grad, mCodes, mAbsmax, vCodes, vAbsmax, step);
        if (param.Numel == 0) return;
        GpuAdamW8bit.Step(Stream, F(param), F(grad), Raw(mCodes), F(mAbsmax), Raw(vCodes), F(vAbsmax), F(DynamicMapTables), param.Numel,
            s.LearningRate, s.Beta1, s.Beta2, s.Eps, s.WeightDecay, step);
    }

    // DynamicMap.GpuTables on this device, uploaded on first use and kept for the backend's life.
    private Tensor DynamicMapTables => LazyInitializer.EnsureInitialized(ref _dynamicMapTables,
        () => Tensor.FromSpan<float>(PureLlama.Kernels.DynamicMap.GpuTables, new Shape(PureLlama.Kernels.DynamicMap.GpuTables.Length), DType.F32, Device));

    private Tensor? _dynamicMapTables;
}
