using PureLlama.Autograd.Functions;
using PureLlama.Kernels;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Autograd;

/// <summary>
/// The differentiable ops. Each computes its forward on the tensors' backend and, when grad mode is
/// on and an input requires a gradient, records itself on the <see cref="Tape"/>.
/// </summary>
public static class Ops
{
    /// <summary>The label that carries no loss (−100, as in PyTorch and Hugging Face).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>op(a)·op(b); a: [.., m, k], b: [k, n] (shared weight) or [.., k, n]; b may be BF16 (frozen).</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false) => MatMulFunction.Apply(a, b, transA, transB);

    /// <summary>x·Wᵀ for a weight W: [out, in] in Hugging Face layout (F32 or BF16).</summary>
    public static Tensor Linear(Tensor x, Tensor weight) => MatMulFunction.Apply(x, weight, false, true);

    /// <summary>
    /// LoRA update of a frozen layer's output: baseOutput + scale·(x·Aᵀ)·Bᵀ; x: [.., in] (already dropped out),
    /// A: [r, in], B: [out, r] F32, baseOutput: [.., out]. One fused function with a hand-written backward.
    /// </summary>
    public static Tensor Lora(Tensor x, Tensor a, Tensor b, Tensor baseOutput, float scale) => LoraFunction.Apply(x, a, b, baseOutput, scale);

    /// <summary>x·Ŵᵀ with a frozen quantized weight Ŵ [out, in] (NF4/INT8): x: [.., in] → [.., out]; backward dx = dy·Ŵ, no weight gradient.</summary>
    public static Tensor QuantLinear(Tensor x, QuantizedTensor weight) => QuantLinearFunction.Apply(x, weight);

    /// <summary>a + b (broadcasting).</summary>
    public static Tensor Add(Tensor a, Tensor b) => BinaryFunction.Apply(BinaryOp.Add, a, b);
    /// <summary>a − b (broadcasting).</summary>
    public static Tensor Sub(Tensor a, Tensor b) => BinaryFunction.Apply(BinaryOp.Sub, a, b);
    /// <summary>a · b elementwise (broadcasting).</summary>
    public static Tensor Mul(Tensor a, Tensor b) => BinaryFunction.Apply(BinaryOp.Mul, a, b);
    /// <summary>a / b elementwise (broadcasting).</summary>
    public static Tensor Div(Tensor a, Tensor b) => BinaryFunction.Apply(BinaryOp.Div, a, b);
    /// <summary>α·x.</summary>
    public static Tensor Scale(Tensor x, float alpha) => ScaleFunction.Apply(x, alpha);
    /// <summary>Σ of all elements (a scalar).</summary>
    public static Tensor Sum(Tensor x) => SumFunction.Apply(x, mean: false);
    /// <summary>Mean of all elements (a scalar).</summary>
    public static Tensor Mean(Tensor x) => SumFunction.Apply(x, mean: true);

    /// <summary>RMSNorm over the last dimension with a learned scale (F32 or BF16 weight).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, float eps) => RmsNormFunction.Apply(x, weight, eps);

    /// <summary>Rotary embedding of x: [.., heads, headDim]; positions I32 with one entry per row of heads; cos/sin: [maxPos, headDim/2].</summary>
    public static Tensor Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin) => RopeFunction.Apply(x, positions, cos, sin);

    /// <summary>
    /// Fused scaled-dot-product attention (FlashAttention-2; grads for q, k, v). q: [tokens, heads, headDim];
    /// k, v: [kvLen, kvHeads, headDim] with heads % kvHeads == 0 (GQA); returns [tokens, heads, headDim].
    /// Query i sits at position settings.QueryOffset + i (causal mask, optional sliding window); optional
    /// I32 segment ids [tokens] / [kvLen] keep packed sequences apart. Decode (few queries, long kvLen)
    /// takes the split-KV path inside the backend.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, in Compute.AttentionSettings settings, Tensor? querySegments = null, Tensor? keySegments = null) =>
        AttentionFunction.Apply(q, k, v, settings, querySegments, keySegments);

    /// <summary>f(x) for an op of the unary family, e.g. <see cref="UnaryOp.Silu"/>, <see cref="UnaryOp.Gelu"/>.</summary>
    public static Tensor Unary(UnaryOp op, Tensor x) => UnaryFunction.Apply(op, x);
    /// <summary>f(gate)·up, the gated MLP activation (SwiGLU with <see cref="UnaryOp.Silu"/>), fused.</summary>
    public static Tensor Gated(UnaryOp op, Tensor gate, Tensor up) => GatedFunction.Apply(op, gate, up);
    /// <summary>Softmax over the last dimension.</summary>
    public static Tensor Softmax(Tensor x) => SoftmaxFunction.Apply(x);

    /// <summary>
    /// Mean cross-entropy of logits [rows, vocab] against I32 targets [rows], skipping
    /// <paramref name="ignoreIndex"/>; divided by <paramref name="normalizer"/> instead of the count when given.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, int ignoreIndex = IgnoreIndex, float? normalizer = null) =>
        CrossEntropyFunction.Apply(logits, targets, ignoreIndex, normalizer);

    /// <summary>Rows of <paramref name="table"/> [vocab, dim] picked by I32 <paramref name="ids"/>: [.., dim].</summary>
    public static Tensor Embedding(Tensor table, Tensor ids) => EmbeddingFunction.Apply(table, ids);

    /// <summary>Same elements, new shape (view when possible).</summary>
    public static Tensor Reshape(Tensor x, Shape shape) => ReshapeFunction.Apply(x, shape);
    /// <summary>Swap two dimensions (view).</summary>
    public static Tensor Transpose(Tensor x, int dim0, int dim1) => TransposeFunction.Apply(x, dim0, dim1);
    /// <summary>[start, start+length) along a dimension (view).</summary>
    public static Tensor Slice(Tensor x, int dim, int start, int length) => SliceFunction.Apply(x, dim, start, length);
    /// <summary>A contiguous copy.</summary>
    public static Tensor Contiguous(Tensor x) => ContiguousFunction.Apply(x);
}
