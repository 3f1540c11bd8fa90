using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// A linear layer y = x·Wᵀ (+ whatever the implementation adds, e.g. a LoRA update) with W in
/// Hugging Face layout [out_features, in_features]. The model holds its projections through this
/// interface, so a dense <see cref="Linear"/>, a quantized layer or a LoRA wrapper plug in
/// without a second copy of the model's code.
/// </summary>
public interface ILinear : IDisposable
{
    /// <summary>Columns of the input.</summary>
    int InFeatures { get; }

    /// <summary>Columns of the output.</summary>
    int OutFeatures { get; }

    /// <summary>Bytes of weights this layer reads per forward (its memory footprint on the device).</summary>
    long WeightBytes { get; }

    /// <summary>x: [.., in] → [.., out] (differentiable through autograd where the layer has trainable parts or x requires a gradient).</summary>
    Tensor Forward(Tensor x);
}
