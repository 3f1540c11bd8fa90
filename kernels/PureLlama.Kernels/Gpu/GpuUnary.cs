// The one ILGPU kernel pair of the unary op family, generic over the op struct TOp (Unary/IUnaryOp).
//
// Math, for i < n:
//   Forward y[i] = f(x[i])          Backward      dx[i] = dy[i]·f'(x[i])
//   Gated   y[i] = f(g[i])·u[i]     GatedBackward dg[i] = dy[i]·u[i]·f'(g[i]), du[i] = dy[i]·f(g[i])
// Thread mapping: grid-stride loop, one element per thread per step (coalesced). Outputs may alias
// inputs of the same index. One compiled kernel per op struct (the cache key names it).
using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Unary;

namespace PureLlama.Kernels.Gpu;

/// <summary>Unary ops (activations) on ILGPU, one generic kernel for the whole family.</summary>
internal static class GpuUnary
{
    /// <summary>y = f(x) over n elements.</summary>
    public static void Forward<TOp>(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, long n) where TOp : struct, IUnaryOp
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, long>(ForwardKernel<TOp>)
            (stream, k.Stride(n), x, y, n);
    }

    /// <summary>dx = dy·f'(x) over n elements.</summary>
    public static void Backward<TOp>(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, long n)
        where TOp : struct, IUnaryOp
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, long>(BackwardKernel<TOp>)(stream, k.Stride(n), x, dy, dx, n);
    }

    /// <summary>y = f(g)·u over n elements.</summary>
    public static void Gated<TOp>(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> y, long n)
        where TOp : struct, IUnaryOp
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, long>(GatedKernel<TOp>)(stream, k.Stride(n), g, u, y, n);
    }

    /// <summary>dg = dy·u·f'(g), du = dy·f(g) over n elements.</summary>
    public static void GatedBackward<TOp>(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> dy,
        ArrayView<float> dg, ArrayView<float> du, long n) where TOp : struct, IUnaryOp
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, long>(GatedBackwardKernel<TOp>)(stream, k.Stride(n), g, u, dy, dg, du, n);
    }

    [GpuKernel(typeof(IUnaryOp))]
    internal static void ForwardKernel<TOp>(ArrayView<float> x, ArrayView<float> y, long n) where TOp : struct, IUnaryOp
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            y[i] = default(TOp).Apply(x[i]);
    }

    [GpuKernel(typeof(IUnaryOp))]
    internal static void BackwardKernel<TOp>(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, long n) where TOp : struct, IUnaryOp
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            dx[i] = dy[i] * default(TOp).Derivative(x[i]);
    }

    [GpuKernel(typeof(IUnaryOp))]
    internal static void GatedKernel<TOp>(ArrayView<float> g, ArrayView<float> u, ArrayView<float> y, long n) where TOp : struct, IUnaryOp
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            y[i] = default(TOp).Apply(g[i]) * u[i];
    }

    [GpuKernel(typeof(IUnaryOp))]
    internal static void GatedBackwardKernel<TOp>(ArrayView<float> g, ArrayView<float> u, ArrayView<float> dy,
        ArrayView<float> dg, ArrayView<float> du, long n) where TOp : struct, IUnaryOp
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
        {
            float v = g[i], d = dy[i];
            dg[i] = d * u[i] * default(TOp).Derivative(v);
            du[i] = d * default(TOp).Apply(v);
        }
    }
}
