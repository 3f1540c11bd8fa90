// Dtype conversions (GPU form of Convert in docs/kernels/contracts.md).
//
// BF16 → F32: exact (bits << 16).  F32 → BF16: round to nearest even with integer ops (GpuBits).
// F16 ⇄ F32: elements are ILGPU.Half (System.Half does not compile in kernels), converted with
// integer ops (GpuBits.F32ToF16, round to nearest even) so the GPU and the CPU accelerator agree
// bit for bit (ILGPU.Half's cast truncates on the CPU accelerator).
// Thread mapping: grid-stride loop, one element per thread per step.
using ILGPU;
using ILGPU.Runtime;
using Half = ILGPU.Half;

namespace PureLlama.Kernels.Gpu;

/// <summary>F32 ⇄ BF16 / F16 conversions on ILGPU.</summary>
internal static class GpuConvert
{
    /// <summary>y = bf16(x), round to nearest even.</summary>
    public static void F32ToBf16(AcceleratorStream stream, ArrayView<float> x, ArrayView<ushort> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<ushort>, long>(F32ToBf16Kernel)(stream, k.Stride(n), x, y, n);
    }

    /// <summary>y = f32(x) for bf16 bits x.</summary>
    public static void Bf16ToF32(AcceleratorStream stream, ArrayView<ushort> x, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<ushort>, ArrayView<float>, long>(Bf16ToF32Kernel)(stream, k.Stride(n), x, y, n);
    }

    /// <summary>y = f16(x), round to nearest even.</summary>
    public static void F32ToF16(AcceleratorStream stream, ArrayView<float> x, ArrayView<Half> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<Half>, long>(F32ToF16Kernel)(stream, k.Stride(n), x, y, n);
    }

    /// <summary>y = f32(x) for f16 x.</summary>
    public static void F16ToF32(AcceleratorStream stream, ArrayView<Half> x, ArrayView<float> y, long n)
    {
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<Half>, ArrayView<float>, long>(F16ToF32Kernel)(stream, k.Stride(n), x, y, n);
    }

    [GpuKernel]
    internal static void F32ToBf16Kernel(ArrayView<float> x, ArrayView<ushort> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride) y[i] = GpuBits.F32ToBf16(x[i]);
    }

    [GpuKernel]
    internal static void Bf16ToF32Kernel(ArrayView<ushort> x, ArrayView<float> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride) y[i] = GpuBits.Bf16ToF32(x[i]);
    }

    [GpuKernel]
    internal static void F32ToF16Kernel(ArrayView<float> x, ArrayView<Half> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride) y[i] = Interop.IntAsFloat(GpuBits.F32ToF16(x[i]));
    }

    [GpuKernel]
    internal static void F16ToF32Kernel(ArrayView<Half> x, ArrayView<float> y, long n)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride) y[i] = GpuBits.F16ToF32(Interop.FloatAsInt(x[i]));
    }
}
