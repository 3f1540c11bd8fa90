// Elementwise kernels (GPU form of Elementwise in docs/kernels/contracts.md).
//
// Math: Binary y[i] = a[i·aStep] ∘ b[i·bStep] (steps 0 = broadcast scalar, 1 = contiguous),
// Scale y = αx, Axpy y += αx, Fill y = v, for i < n. BinaryBroadcast takes each operand through a
// rank-6 strided layout over y's shape (stride 0 = broadcast), so any numpy broadcast is one launch.
// Thread mapping: a grid-stride loop. Thread t of group g starts at i = g·G + t and advances by
// (#groups)·G, so consecutive threads touch consecutive elements (coalesced) and any n fits a
// bounded grid (GpuKernelCache.Stride). Indices are 64-bit: tensors may exceed 2³¹ elements.
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Elementwise kernels on ILGPU: Binary, Scale, Axpy, Fill.</summary>
internal static class GpuElementwise
{
    /// <summary>y[i] = a[i·aStep] ∘ b[i·bStep] for i &lt; n; steps are 0 or 1. y may alias a or b.</summary>
    public static void Binary(AcceleratorStream stream, BinaryOp op, ArrayView<float> a, int aStep, ArrayView<float> b, int bStep, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, int, ArrayView<float>, int, ArrayView<float>, long, int>(BinaryKernel)
            (stream, k.Stride(n), a, aStep, b, bStep, y, n, (int)op);
    }

    /// <summary>y = αx over n elements (in place allowed).</summary>
    public static void Scale(AcceleratorStream stream, ArrayView<float> x, float alpha, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, float, ArrayView<float>, long>(ScaleKernel)
            (stream, k.Stride(n), x, alpha, y, n);
    }

    /// <summary>y += αx over n elements.</summary>
    public static void Axpy(AcceleratorStream stream, float alpha, ArrayView<float> x, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<float, ArrayView<float>, ArrayView<float>, long>(AxpyKernel)
            (stream, k.Stride(n), alpha, x, y, n);
    }

    /// <summary>y = v over n elements.</summary>
    public static void Fill(AcceleratorStream stream, ArrayView<float> y, float v, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, float, long>(FillKernel)
            (stream, k.Stride(n), y, v, n);
    }

    /// <summary>
    /// Broadcast form: y[k] = a[la.OffsetOf(k)] ∘ b[lb.OffsetOf(k)] for k &lt; n, where la and lb carry
    /// y's sizes (rank ≤ 6) with each operand's element strides (0 on broadcast dimensions).
    /// </summary>
    public static void BinaryBroadcast(AcceleratorStream stream, BinaryOp op, ArrayView<float> a, StridedLayout6 la, ArrayView<float> b, StridedLayout6 lb, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, StridedLayout6, ArrayView<float>, StridedLayout6, ArrayView<float>, long, int>(BinaryBroadcastKernel)
            (stream, k.Stride(n), a, la, b, lb, y, n, (int)op);
    }

    [GpuKernel]
    internal static void BinaryBroadcastKernel(ArrayView<float> a, StridedLayout6 la, ArrayView<float> b, StridedLayout6 lb, ArrayView<float> y, long n, int op)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            y[i] = Apply(op, a[la.OffsetOf(i)], b[lb.OffsetOf(i)]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Apply(int op, float av, float bv)
    {
        if (op == (int)BinaryOp.Add) return av + bv;
        if (op == (int)BinaryOp.Sub) return av - bv;
        if (op == (int)BinaryOp.Mul) return av * bv;
        return av / bv;
    }

    [GpuKernel]
    internal static void BinaryKernel(ArrayView<float> a, int aStep, ArrayView<float> b, int bStep, ArrayView<float> y, long n, int op)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            y[i] = Apply(op, a[i * aStep], b[i * bStep]);
    }

    [GpuKernel]
    internal static void ScaleKernel(ArrayView<float> x, float alpha, ArrayView<float> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            y[i] = alpha * x[i];
    }

    [GpuKernel]
    internal static void AxpyKernel(float alpha, ArrayView<float> x, ArrayView<float> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            y[i] += alpha * x[i];
    }

    [GpuKernel]
    internal static void FillKernel(ArrayView<float> y, float v, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
            y[i] = v;
    }
}
