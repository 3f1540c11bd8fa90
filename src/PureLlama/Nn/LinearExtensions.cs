using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>Helpers over <see cref="ILinear"/>.</summary>
public static class LinearExtensions
{
    /// <summary>The weight [out, in] of a dense <see cref="Linear"/>; throws naming the layer type otherwise.</summary>
    public static Tensor DenseWeight(this ILinear linear)
    {
        ArgumentNullException.ThrowIfNull(linear);
        return linear is Linear dense ? dense.Weight
            : throw new InvalidOperationException($"This {linear.GetType().Name} is not a dense Linear: it has no plain weight tensor.");
    }
}
