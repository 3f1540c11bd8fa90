using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Simd;

namespace PureLlama.Kernels.Unary;

/// <summary>
/// A member of the unary op family as a value (what <c>IBackend.Unary</c>/<c>Gated</c>, autograd and the
/// checks pass around): it binds the op struct to the generic SIMD loops and the generic GPU kernels,
/// plain (y = f(x)) and gated (y = f(g)·u, the MLP's SwiGLU/GeGLU).
/// <see cref="All"/> is the registry: adding an activation is its <see cref="IUnaryOp"/> struct, one
/// line here and a row in docs/kernels/contracts.md; backends, autograd, the PTX check and the kernel
/// checks pick it up from this list.
/// </summary>
public abstract class UnaryOp
{
    /// <summary>y = x·σ(x).</summary>
    public static readonly UnaryOp Silu = new Bound<SiluOp>();
    /// <summary>y = x·Φ(x) (exact, erf).</summary>
    public static readonly UnaryOp Gelu = new Bound<GeluOp>();
    /// <summary>y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    public static readonly UnaryOp GeluTanh = new Bound<GeluTanhOp>();

    /// <summary>Every unary op, in a stable order.</summary>
    public static IReadOnlyList<UnaryOp> All { get; } = [Silu, Gelu, GeluTanh];

    private UnaryOp() { }

    /// <summary>Short name, e.g. "silu".</summary>
    public abstract string Name { get; }

    /// <summary>The Hugging Face <c>hidden_act</c> values that name this op.</summary>
    public abstract IReadOnlyList<string> ConfigNames { get; }

    /// <summary>The op struct (an <see cref="IUnaryOp"/>), e.g. for closing generic kernels over it.</summary>
    public abstract Type OpType { get; }

    /// <summary>The op whose <see cref="ConfigNames"/> contain <paramref name="configName"/>, or null.</summary>
    public static UnaryOp? FromConfigName(string configName) => All.FirstOrDefault(op => op.ConfigNames.Contains(configName));

    /// <summary>float64 f(x).</summary>
    public abstract double Reference(double x);

    /// <summary>float64 f'(x).</summary>
    public abstract double ReferenceDerivative(double x);

    /// <summary>SIMD CPU: y = f(x) over n elements (y may be x).</summary>
    public abstract unsafe void Simd(float* x, float* y, long n);

    /// <summary>SIMD CPU: dx = dy·f'(x) over n elements (dx may alias x or dy).</summary>
    public abstract unsafe void SimdBackward(float* x, float* dy, float* dx, long n);

    /// <summary>SIMD CPU: y = f(g)·u over n elements.</summary>
    public abstract unsafe void SimdGated(float* g, float* u, float* y, long n);

    /// <summary>SIMD CPU: dg = dy·u·f'(g), du = dy·f(g) over n elements.</summary>
    public abstract unsafe void SimdGatedBackward(float* g, float* u, float* dy, float* dg, float* du, long n);

    /// <summary>ILGPU: y = f(x) over n elements.</summary>
    public abstract void Gpu(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, long n);

    /// <summary>ILGPU: dx = dy·f'(x) over n elements.</summary>
    public abstract void GpuBackward(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, long n);

    /// <summary>ILGPU: y = f(g)·u over n elements.</summary>
    public abstract void GpuGated(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> y, long n);

    /// <summary>ILGPU: dg = dy·u·f'(g), du = dy·f(g) over n elements.</summary>
    public abstract void GpuGatedBackward(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> dy,
        ArrayView<float> dg, ArrayView<float> du, long n);

    /// <inheritdoc/>
    public override string ToString() => Name;

    private sealed class Bound<TOp> : UnaryOp where TOp : struct, IUnaryOp
    {
        public override string Name => default(TOp).Name;
        public override IReadOnlyList<string> ConfigNames => default(TOp).ConfigNames;
        public override Type OpType => typeof(TOp);
        public override double Reference(double x) => default(TOp).Reference(x);
        public override double ReferenceDerivative(double x) => default(TOp).ReferenceDerivative(x);
        public override unsafe void Simd(float* x, float* y, long n) => SimdUnary.Forward<TOp>(x, y, n);
        public override unsafe void SimdBackward(float* x, float* dy, float* dx, long n) => SimdUnary.Backward<TOp>(x, dy, dx, n);
        public override unsafe void SimdGated(float* g, float* u, float* y, long n) => SimdUnary.Gated<TOp>(g, u, y, n);
        public override unsafe void SimdGatedBackward(float* g, float* u, float* dy, float* dg, float* du, long n) =>
            SimdUnary.GatedBackward<TOp>(g, u, dy, dg, du, n);
        public override void Gpu(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, long n) =>
            GpuUnary.Forward<TOp>(stream, x, y, n);
        public override void GpuBackward(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, long n) =>
            GpuUnary.Backward<TOp>(stream, x, dy, dx, n);
        public override void GpuGated(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> y, long n) =>
            GpuUnary.Gated<TOp>(stream, g, u, y, n);
        public override void GpuGatedBackward(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> dy,
            ArrayView<float> dg, ArrayView<float> du, long n) => GpuUnary.GatedBackward<TOp>(stream, g, u, dy, dg, du, n);
    }
}
