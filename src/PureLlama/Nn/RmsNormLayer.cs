using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// RMSNorm over the last dimension: y = x / √(mean(x²) + eps) · w, w: [dim] (F32 or BF16, HF
/// <c>*.weight</c>). Owns its weight tensor handle.
/// </summary>
public sealed class RmsNormLayer : IDisposable
{
    /// <summary>Wraps <paramref name="weight"/> [dim]; the layer takes ownership of this handle.</summary>
    public RmsNormLayer(Tensor weight, float eps)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 1) throw new ArgumentException($"RMSNorm weight must be [dim], got {weight.Describe()}.", nameof(weight));
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "RMSNorm eps must be positive.");
        Weight = weight;
        Eps = eps;
    }

    /// <summary>w: [dim].</summary>
    public Tensor Weight { get; }

    /// <summary>The ε added to the mean square.</summary>
    public float Eps { get; }

    /// <summary>x: [.., dim] → [.., dim].</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Shape[-1] != Weight.Shape[0])
            throw new ArgumentException($"RMSNorm {Weight.Name ?? ""}: input {x.Describe()} must end in {Weight.Shape[0]}.", nameof(x));
        return Ops.RmsNorm(x, Weight, Eps);
    }

    /// <inheritdoc/>
    public void Dispose() => Weight.Dispose();
}
