using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU.Algorithms;

namespace PureLlama.Kernels.Unary;

/// <summary>
/// The transcendental pieces of the unary ops in float, vector and scalar forms alike:
/// <code>
/// σ(x)   = 1/(1 + e^−x)
/// erf(x) ≈ sign(x)·(1 − t(a1 + t(a2 + t(a3 + t(a4 + t·a5))))·e^−x²),  t = 1/(1 + p|x|)
/// </code>
/// (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7). The scalar forms use ILGPU's XMath so the GPU
/// kernels can call them; e^x on vectors is the .NET vector Exp.
/// </summary>
internal static class VectorMath
{
    private const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    /// <summary>σ(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));

    /// <summary>σ(x) on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    /// <summary>σ(x) on 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));

    /// <summary>erf(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Erf(float x)
    {
        float a = XMath.Abs(x);
        float t = 1f / (1f + P * a);
        float e = 1f - t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5)))) * XMath.Exp(-a * a);
        return x < 0 ? -e : e;
    }

    /// <summary>erf(x) on 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var t = Vector256<float>.One / (Vector256<float>.One + Vector256.Create(P) * a);
        var poly = t * (Vector256.Create(A1) + t * (Vector256.Create(A2) + t * (Vector256.Create(A3) + t * (Vector256.Create(A4) + t * A5))));
        var e = Vector256<float>.One - poly * Vector256.Exp(-a * a);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -e, e);
    }

    /// <summary>erf(x) on 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        var a = Vector512.Abs(x);
        var t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(P) * a);
        var poly = t * (Vector512.Create(A1) + t * (Vector512.Create(A2) + t * (Vector512.Create(A3) + t * (Vector512.Create(A4) + t * A5))));
        var e = Vector512<float>.One - poly * Vector512.Exp(-a * a);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -e, e);
    }
}
