using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// y = x·Ŵᵀ with a frozen packed weight Ŵ [out, in] (NF4 or INT8), dequantized inside the matmul
/// kernels and never materialised; the QLoRA base layer. Gradients flow to x (dx = dy·Ŵ), never to Ŵ.
/// Owns its weight: <see cref="Dispose"/> releases it.
/// </summary>
public sealed class QuantLinear : ILinear
{
    /// <summary>Wraps <paramref name="weight"/> [out, in]; the module takes ownership.</summary>
    public QuantLinear(QuantizedTensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        Weight = weight;
    }

    /// <summary>Ŵ: [outFeatures, inFeatures], packed.</summary>
    public QuantizedTensor Weight { get; }

    /// <inheritdoc/>
    public int InFeatures => Weight.Columns;

    /// <inheritdoc/>
    public int OutFeatures => Weight.Rows;

    /// <inheritdoc/>
    public long WeightBytes => Weight.ByteLength;

    /// <summary>x: [.., in] → [.., out].</summary>
    public Tensor Forward(Tensor x) => Ops.QuantLinear(x, Weight);

    /// <inheritdoc/>
    public void Dispose() => Weight.Dispose();
}
