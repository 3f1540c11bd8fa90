using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Unary;

/// <summary>
/// One elementwise activation y = f(x) of the unary op family (candle's <c>UnaryOpT</c>): the scalar
/// form (GPU kernels and SIMD tails), the Vector256/Vector512 forms (SIMD bodies), the derivative
/// f'(x) in the same three forms, and a float64 reference of both. The generic loops
/// (<see cref="Simd.SimdUnary"/>, <see cref="Gpu.GpuUnary"/>) call these on <c>default(TOp)</c>,
/// so an op is a stateless struct and every call inlines. Register a new op in <see cref="UnaryOp"/>.
/// </summary>
public interface IUnaryOp
{
    /// <summary>Short name for reports, e.g. "silu".</summary>
    string Name { get; }

    /// <summary>The <c>hidden_act</c> values of Hugging Face configs that name this op (may be empty).</summary>
    string[] ConfigNames { get; }

    /// <summary>f(x).</summary>
    float Apply(float x);
    /// <summary>f(x) on 8 lanes.</summary>
    Vector256<float> Apply(Vector256<float> x);
    /// <summary>f(x) on 16 lanes.</summary>
    Vector512<float> Apply(Vector512<float> x);

    /// <summary>f'(x).</summary>
    float Derivative(float x);
    /// <summary>f'(x) on 8 lanes.</summary>
    Vector256<float> Derivative(Vector256<float> x);
    /// <summary>f'(x) on 16 lanes.</summary>
    Vector512<float> Derivative(Vector512<float> x);

    /// <summary>float64 reference of f(x), written independently of the float forms.</summary>
    double Reference(double x);
    /// <summary>float64 reference of f'(x).</summary>
    double ReferenceDerivative(double x);
}
