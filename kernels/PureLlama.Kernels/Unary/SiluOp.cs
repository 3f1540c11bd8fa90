using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Unary;

/// <summary>
/// SiLU (swish), the Llama MLP gate:
/// <code>
/// y  = x·σ(x)
/// y' = σ(x)·(1 + x·(1 − σ(x)))
/// </code>
/// </summary>
public readonly struct SiluOp : IUnaryOp
{
    /// <inheritdoc/>
    public string Name => "silu";
    /// <inheritdoc/>
    public string[] ConfigNames => ["silu", "swish"];

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float x) => x * VectorMath.Sigmoid(x);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Apply(Vector256<float> x) => x * VectorMath.Sigmoid(x);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Apply(Vector512<float> x) => x * VectorMath.Sigmoid(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float x)
    {
        float s = VectorMath.Sigmoid(x);
        return s * (1f + x * (1f - s));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> x)
    {
        var s = VectorMath.Sigmoid(x);
        return s * (Vector256<float>.One + x * (Vector256<float>.One - s));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> x)
    {
        var s = VectorMath.Sigmoid(x);
        return s * (Vector512<float>.One + x * (Vector512<float>.One - s));
    }

    /// <inheritdoc/>
    public double Reference(double x) => x / (1 + Math.Exp(-x));

    /// <inheritdoc/>
    public double ReferenceDerivative(double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return s * (1 + x * (1 - s));
    }
}
