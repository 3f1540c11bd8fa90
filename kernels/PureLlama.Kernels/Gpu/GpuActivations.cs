// SiLU and SwiGLU, forward and backward (GPU form of Activations in docs/kernels/contracts.md).
//
// Math: σ(x) = 1/(1 + e^(−x)); silu(x) = x·σ(x); silu'(x) = σ(x)·(1 + x·(1 − σ(x))).
//   Silu:           y = silu(x)                 SiluBackward:   dx = dy·silu'(x)
//   SwiGlu:         y = silu(g)·u               SwiGluBackward: dg = dy·u·silu'(g), du = dy·silu(g)
// Thread mapping: grid-stride loop, one element per thread per step (coalesced). Outputs may
// alias inputs of the same index.
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>SiLU / SwiGLU activations on ILGPU.</summary>
public static class GpuActivations
{
    /// <summary>y = x·σ(x).</summary>
    public static void Silu(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Get("GpuActivations.SiluKernel", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, long>(SiluKernel))(stream, k.Stride(n), x, y, n);
    }

    /// <summary>dx = dy·σ(x)(1 + x(1 − σ(x))).</summary>
    public static void SiluBackward(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Get("GpuActivations.SiluBackwardKernel", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, long>(SiluBackwardKernel))
            (stream, k.Stride(n), x, dy, dx, n);
    }

    /// <summary>y = silu(g)·u.</summary>
    public static void SwiGlu(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Get("GpuActivations.SwiGluKernel", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, long>(SwiGluKernel))
            (stream, k.Stride(n), g, u, y, n);
    }

    /// <summary>dg = dy·u·silu'(g), du = dy·silu(g).</summary>
    public static void SwiGluBackward(AcceleratorStream stream, ArrayView<float> g, ArrayView<float> u, ArrayView<float> dy,
        ArrayView<float> dg, ArrayView<float> du, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Get("GpuActivations.SwiGluBackwardKernel", acc => acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long>(SwiGluBackwardKernel))
            (stream, k.Stride(n), g, u, dy, dg, du, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));

    internal static void SiluKernel(ArrayView<float> x, ArrayView<float> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
        {
            float v = x[i];
            y[i] = v * Sigmoid(v);
        }
    }

    internal static void SiluBackwardKernel(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
        {
            float v = x[i], s = Sigmoid(v);
            dx[i] = dy[i] * s * (1f + v * (1f - s));
        }
    }

    internal static void SwiGluKernel(ArrayView<float> g, ArrayView<float> u, ArrayView<float> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
        {
            float v = g[i];
            y[i] = v * Sigmoid(v) * u[i];
        }
    }

    internal static void SwiGluBackwardKernel(ArrayView<float> g, ArrayView<float> u, ArrayView<float> dy, ArrayView<float> dg, ArrayView<float> du, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
        {
            float v = g[i], s = Sigmoid(v), d = dy[i], uu = u[i];
            dg[i] = d * uu * s * (1f + v * (1f - s));
            du[i] = d * v * s;
        }
    }
}
