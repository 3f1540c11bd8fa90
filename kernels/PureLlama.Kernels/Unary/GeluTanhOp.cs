using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Unary;

/// <summary>
/// GELU, tanh approximation (Hugging Face <c>gelu_pytorch_tanh</c> / <c>gelu_new</c>), written with
/// ½(1 + tanh u) = σ(2u):
/// <code>
/// u  = √(2/π)·(x + 0.044715x³),  s = σ(2u)
/// y  = x·s
/// y' = s + x·s(1 − s)·2√(2/π)·(1 + 3·0.044715x²)
/// </code>
/// </summary>
public readonly struct GeluTanhOp : IUnaryOp
{
    private const float TwoK = 2f * 0.79788456080286536f, C = 0.044715f;

    /// <inheritdoc/>
    public string Name => "gelu-tanh";
    /// <inheritdoc/>
    public string[] ConfigNames => ["gelu_pytorch_tanh", "gelu_new"];

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float x) => x * VectorMath.Sigmoid(TwoK * (x + C * x * x * x));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Apply(Vector256<float> x) => x * VectorMath.Sigmoid((x + x * x * x * C) * TwoK);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Apply(Vector512<float> x) => x * VectorMath.Sigmoid((x + x * x * x * C) * TwoK);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float x)
    {
        float s = VectorMath.Sigmoid(TwoK * (x + C * x * x * x));
        return s + x * s * (1f - s) * TwoK * (1f + 3f * C * x * x);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> x)
    {
        var s = VectorMath.Sigmoid((x + x * x * x * C) * TwoK);
        return s + x * s * (Vector256<float>.One - s) * TwoK * (Vector256<float>.One + x * x * (3f * C));
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> x)
    {
        var s = VectorMath.Sigmoid((x + x * x * x * C) * TwoK);
        return s + x * s * (Vector512<float>.One - s) * TwoK * (Vector512<float>.One + x * x * (3f * C));
    }

    /// <inheritdoc/>
    public double Reference(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    /// <inheritdoc/>
    public double ReferenceDerivative(double x)
    {
        double k = Math.Sqrt(2 / Math.PI), t = Math.Tanh(k * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
    }
}
