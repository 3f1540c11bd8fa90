using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// y = x·Wᵀ with W: [outFeatures, inFeatures] in Hugging Face layout (no bias: Llama has none).
/// The weight is used as stored: F32, or BF16 widened inside the matmul kernel (frozen).
/// Owns its weight tensor handle: <see cref="Dispose"/> releases it.
/// </summary>
public sealed class Linear : ILinear
{
    /// <summary>Wraps <paramref name="weight"/> [out, in]; the module takes ownership of this handle.</summary>
    public Linear(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2) throw new ArgumentException($"Linear weight must be [out, in], got {weight.Describe()}.", nameof(weight));
        if (weight.DType is not (DType.F32 or DType.BF16))
            throw new ArgumentException($"Linear weight {weight.Describe()} must be F32 or BF16 (convert F16 checkpoints on load).", nameof(weight));
        Weight = weight;
    }

    /// <summary>W: [outFeatures, inFeatures].</summary>
    public Tensor Weight { get; }

    /// <summary>Columns of the input.</summary>
    public int InFeatures => Weight.Shape[1];

    /// <summary>Columns of the output.</summary>
    public int OutFeatures => Weight.Shape[0];

    /// <inheritdoc/>
    public long WeightBytes => Weight.ByteLength;

    /// <summary>x: [.., in] → [.., out].</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Shape[-1] != InFeatures)
            throw new ArgumentException($"Linear {Weight.Name ?? ""}: input {x.Describe()} must end in {InFeatures}.", nameof(x));
        return Ops.Linear(x, Weight);
    }

    /// <inheritdoc/>
    public void Dispose() => Weight.Dispose();
}
