using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using PureLlama.Kernels.Reference;

namespace PureLlama.Kernels.Unary;

/// <summary>
/// GELU, exact (Hugging Face <c>gelu</c>):
/// <code>
/// y  = x·Φ(x),  Φ(x) = ½(1 + erf(x/√2))
/// y' = Φ(x) + x·φ(x),  φ(x) = e^(−x²/2)/√(2π)
/// </code>
/// </summary>
public readonly struct GeluOp : IUnaryOp
{
    private const float InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.39894228040143268f;

    /// <inheritdoc/>
    public string Name => "gelu";
    /// <inheritdoc/>
    public string[] ConfigNames => ["gelu"];

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float x) => x * Cdf(x);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Apply(Vector256<float> x) => x * Cdf(x);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Apply(Vector512<float> x) => x * Cdf(x);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float x) => Cdf(x) + x * InvSqrt2Pi * ILGPU.Algorithms.XMath.Exp(-0.5f * x * x);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> x) => Cdf(x) + x * InvSqrt2Pi * Vector256.Exp(x * x * -0.5f);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> x) => Cdf(x) + x * InvSqrt2Pi * Vector512.Exp(x * x * -0.5f);

    /// <inheritdoc/>
    public double Reference(double x) => x * 0.5 * (1 + ReferenceMath.Erf(x / Math.Sqrt(2)));

    /// <inheritdoc/>
    public double ReferenceDerivative(double x) =>
        0.5 * (1 + ReferenceMath.Erf(x / Math.Sqrt(2))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);

    private static float Cdf(float x) => 0.5f * (1f + VectorMath.Erf(x * InvSqrt2));
    private static Vector256<float> Cdf(Vector256<float> x) => (Vector256<float>.One + VectorMath.Erf(x * InvSqrt2)) * 0.5f;
    private static Vector512<float> Cdf(Vector512<float> x) => (Vector512<float>.One + VectorMath.Erf(x * InvSqrt2)) * 0.5f;
}
