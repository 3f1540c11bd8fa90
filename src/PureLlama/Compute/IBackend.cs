using PureLlama.Kernels;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>
/// The op set of PureLlama expressed on tensors of one device. Every op writes into output tensors
/// the caller allocated (with <see cref="Allocate"/> or <see cref="Tensor.Empty"/>); unless a
/// parameter says otherwise, tensors must be contiguous, F32, and live on this backend's device.
/// Implementations validate shapes and dtypes and throw <see cref="ArgumentException"/> naming
/// the offending argument, then call one kernel. The math of each op is in docs/kernels/contracts.md.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Human-readable name, e.g. "cpu (AVX-512)" or "cuda (NVIDIA H100)".</summary>
    string Name { get; }

    /// <summary>The device this backend computes on.</summary>
    Device Device { get; }

    // ---- memory ------------------------------------------------------------------------------

    /// <summary>Allocates zeroed storage of <paramref name="byteLength"/> bytes on this device.</summary>
    Storage Allocate(long byteLength);

    /// <summary>Copies host bytes into a contiguous tensor of this device.</summary>
    void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination);

    /// <summary>Copies a contiguous tensor of this device into host bytes.</summary>
    void CopyToHost(Tensor source, Span<byte> destination);

    /// <summary>dst = src elementwise for any strided views of the same shape and dtype (either may be non-contiguous).</summary>
    void Copy(Tensor source, Tensor destination);

    /// <summary>Sets every element of a contiguous F32 tensor to <paramref name="value"/>.</summary>
    void Fill(Tensor destination, float value);

    /// <summary>Converts between F32, BF16 and F16 (round to nearest even when narrowing); same shapes.</summary>
    void Cast(Tensor source, Tensor destination);

    /// <summary>Waits until all queued work on this device has finished.</summary>
    void Synchronize();

    // ---- linear algebra ----------------------------------------------------------------------

    /// <summary>
    /// c (=|+=) op(a)·op(b). a: [.., m, k] (or [.., k, m] with <paramref name="transA"/>), b: [k, n] or
    /// [.., k, n] (or [n, k]/[.., n, k] with <paramref name="transB"/>), c: [.., m, n] contiguous F32.
    /// Leading (batch) dims of a and c must match; b either has the same batch dims or none (shared
    /// weight). a is F32; b is F32 or BF16 (a weight used as stored).
    /// </summary>
    void MatMul(Tensor a, Tensor b, Tensor c, bool transA, bool transB, bool accumulate);

    /// <summary>
    /// Dequant-matmul: y (=|+=) x·Ŵᵀ with x: [.., in], y: [.., out] (<paramref name="transposeWeight"/> false:
    /// the forward), or y (=|+=) x·Ŵ with x: [.., out], y: [.., in] (true: the input gradient dX = dY·W of a
    /// frozen quantized base). Ŵ is dequantized inside the kernel (registers / shared memory), never
    /// materialized whole. x and y are contiguous F32 on this device; w lives on this device.
    /// </summary>
    void QuantizedMatMul(Tensor x, QuantizedTensor w, Tensor y, bool transposeWeight, bool accumulate);

    /// <summary>destination: contiguous F32 [out, in] = Ŵ (merging LoRA, references, export).</summary>
    void Dequantize(QuantizedTensor w, Tensor destination);

    // ---- elementwise and reductions ----------------------------------------------------------

    /// <summary>y = a ∘ b with numpy broadcasting of a and b to y's shape.</summary>
    void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y);

    /// <summary>y = alpha·x (y may be x).</summary>
    void Scale(Tensor x, float alpha, Tensor y);

    /// <summary>y += alpha·x (same shapes).</summary>
    void Axpy(float alpha, Tensor x, Tensor y);

    /// <summary>
    /// Sums <paramref name="source"/> down to the shape of <paramref name="destination"/>, which must be
    /// a broadcast-compatible shape (the reverse of broadcasting; a scalar [] sums everything).
    /// </summary>
    void SumToShape(Tensor source, Tensor destination);

    // ---- fused layers ------------------------------------------------------------------------

    /// <summary>x: [rows, dim], weight: [dim] F32 or BF16 → y: [rows, dim], rstd: [rows].</summary>
    void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd);

    /// <summary>dx = ∂L/∂x (overwritten); dWeight += ∂L/∂w (accumulated, F32 [dim]).</summary>
    void RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd, Tensor dx, Tensor dWeight);

    /// <summary>
    /// Rotary embedding in the rotate-half layout. x, y: [tokens, heads, headDim] (y may be x),
    /// positions: I32 [tokens], cos/sin: [maxPositions, headDim/2]. <paramref name="inverse"/> rotates
    /// by −θ (the backward).
    /// </summary>
    void Rope(Tensor x, Tensor positions, Tensor cos, Tensor sin, Tensor y, bool inverse);

    /// <summary>y = f(x) for an op of the unary family (<see cref="UnaryOp.All"/>); y may be x.</summary>
    void Unary(UnaryOp op, Tensor x, Tensor y);

    /// <summary>dx = dy·f'(x).</summary>
    void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx);

    /// <summary>y = f(gate)·up, the gated MLP activation (SwiGLU when f is silu, GeGLU when f is gelu).</summary>
    void Gated(UnaryOp op, Tensor gate, Tensor up, Tensor y);

    /// <summary>dGate = dy·up·f'(gate), dUp = dy·f(gate).</summary>
    void GatedBackward(UnaryOp op, Tensor gate, Tensor up, Tensor dy, Tensor dGate, Tensor dUp);

    /// <summary>Softmax over the last dimension.</summary>
    void Softmax(Tensor x, Tensor y);

    /// <summary>dx = y·(dy − Σ dy·y) over the last dimension.</summary>
    void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx);

    /// <summary>
    /// logits: [rows, vocab], targets: I32 [rows] (each in [0, vocab) or <paramref name="ignoreIndex"/>)
    /// → loss: [rows] (0 where ignored), lse: [rows] log-sum-exp of each row.
    /// </summary>
    void CrossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor loss, Tensor lse);

    /// <summary>dLogits = scale·(softmax(logits) − onehot(target)), zero rows where ignored.</summary>
    void CrossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, int ignoreIndex, float scale, Tensor dLogits);

    /// <summary>y[i] = table[ids[i]]; table: [vocab, dim] F32 or BF16, ids: I32 [n], y: [n, dim].</summary>
    void EmbeddingGather(Tensor table, Tensor ids, Tensor y);

    /// <summary>dTable[ids[i]] += dy[i]; dTable: F32 [vocab, dim].</summary>
    void EmbeddingScatterAdd(Tensor dy, Tensor ids, Tensor dTable);

    /// <summary>
    /// LoRA forward for a small rank r (docs: Autograd/Functions/LoraFunction.cs): h = scale·x·Aᵀ and
    /// y += h·Bᵀ. x: [m, in], a: [r, in], b: [out, r], h: [m, r] (overwritten), y: [m, out] (accumulated:
    /// it holds the frozen base layer's output).
    /// </summary>
    void LoraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y);

    /// <summary>
    /// LoRA backward: g = scale·dy·B [m, r]; dx = g·A [m, in] (overwritten; skipped when null);
    /// dA = gᵀ·x [r, in]; dB = dyᵀ·h [out, r] (both overwritten), with h the forward's saved output.
    /// </summary>
    void LoraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, Tensor h, float scale, Tensor g, Tensor? dx, Tensor dA, Tensor dB);

    /// <summary>One decoupled-weight-decay Adam step over a whole parameter (all F32, same shape).</summary>
    void AdamW(Tensor param, Tensor grad, Tensor m, Tensor v, in AdamWSettings settings, int step);

    /// <summary>
    /// One AdamW step with 8-bit block-wise quantized moments (bitsandbytes' 8-bit Adam, blocks of 256):
    /// param, grad F32 [n]; mCodes, vCodes U8 [n] (codes of the signed / unsigned dynamic map,
    /// <see cref="DynamicMap"/>); mAbsmax, vAbsmax F32 [⌈n/256⌉]. Dequantize, update, requantize with the
    /// new block absmax, all in place (kernels/PureLlama.Kernels/Simd/AdamW8bit.cs).
    /// </summary>
    void AdamW8bit(Tensor param, Tensor grad, Tensor mCodes, Tensor mAbsmax, Tensor vCodes, Tensor vAbsmax, in AdamWSettings settings, int step);

    // ---- attention ---------------------------------------------------------------------------

    /// <summary>
    /// FlashAttention forward (docs/kernels/flash-attention.md). q: [tokens, heads, headDim];
    /// k, v: [kvLen, kvHeads, headDim], heads % kvHeads == 0 (GQA, no copies), headDim a multiple of 8;
    /// q, k, v F32 or BF16 (k and v the same dtype), F32 accumulation. output: [tokens, heads, headDim]
    /// F32; lse: [heads, tokens] F32 log-sum-exp of each query row's scaled scores (saved for the
    /// backward; null at inference). Query i sits at position settings.QueryOffset + i, keys at
    /// 0..kvLen−1; see <see cref="AttentionSettings"/> for the mask. Optional I32 segment ids
    /// (querySegments [tokens], keySegments [kvLen], both or neither): a query sees only keys of its
    /// own segment (packed sequences). A query that sees no key gets a zero row and lse = −∞.
    /// Few queries against a long kvLen switch to split-KV (flash-decoding) inside.
    /// </summary>
    void Attention(Tensor q, Tensor k, Tensor v, Tensor output, Tensor? lse, in AttentionSettings settings,
        Tensor? querySegments = null, Tensor? keySegments = null);

    /// <summary>
    /// FlashAttention backward: dq [tokens, heads, headDim], dk, dv [kvLen, kvHeads, headDim] (F32,
    /// overwritten) from the forward's inputs, its output, dOutput (F32, the output's shape) and the
    /// saved lse. dk/dv of a KV head are summed over its query-head group.
    /// </summary>
    void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor dOutput, Tensor lse,
        Tensor dq, Tensor dk, Tensor dv, in AttentionSettings settings, Tensor? querySegments = null, Tensor? keySegments = null);

    // ---- paged KV cache (serving) --------------------------------------------------------------

    /// <summary>
    /// Writes this step's keys and values k, v [layout.Rows, kvHeads, headDim] (F32, contiguous) into the pools
    /// kPool, vPool [blocks, kvHeads, blockSize, headDim] (F32, BF16 rounded to nearest even, or I8 with scales
    /// [blocks, kvHeads, blockSize] F32 = max|x| / 127 per row) at the layout's slots.
    /// </summary>
    void PagedKvStore(Tensor k, Tensor v, PagedLayout layout, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales);

    /// <summary>
    /// PagedAttention (kernels/PureLlama.Kernels/Simd/PagedAttention.cs): output [layout.Rows, heads, headDim] F32 =
    /// causal softmax(scale·q·kᵀ)·v of each new row q [layout.Rows, heads, headDim] (F32) against its sequence's keys
    /// 0..position, read from the pools through the layout's block tables; GQA without copies. A row's result does
    /// not depend on the other rows of the call or on the block size (batch invariance).
    /// </summary>
    void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales, PagedLayout layout, Tensor output, float scale);
}

/// <summary>Hyper-parameters of an AdamW step.</summary>
public readonly record struct AdamWSettings(float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f, float Eps = 1e-8f, float WeightDecay = 0.01f);

/// <summary>
/// Softmax scale and mask of an attention op. Query i (absolute position QueryOffset + i) sees key j
/// when (!Causal || j ≤ position) and (Window ≤ 0 || j &gt; position − Window) (Mistral-style sliding
/// window of Window keys including its own).
/// </summary>
public readonly record struct AttentionSettings(float Scale, bool Causal = true, int Window = 0, int QueryOffset = 0)
{
    /// <summary>The usual scale 1/√headDim with the given mask.</summary>
    public static AttentionSettings For(int headDim, bool causal = true, int window = 0, int queryOffset = 0) =>
        new(1f / MathF.Sqrt(headDim), causal, window, queryOffset);
}
