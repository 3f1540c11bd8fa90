// The device's own dp4a and byte permutes on given words, for comparison with their integer emulation (GpuDp4a):
//
//   r[3i] = Dot4(a[i], b[i], c[i]),  r[3i+1] = Permute(a[i], b[i], 0x6420),  r[3i+2] = Permute(a[i], b[i], 0x7531)
//
// On CUDA these are the inline-PTX instructions, so `purellama selftest --device cuda` checks that they compute what the
// emulation (which ILGPU's CPU accelerator runs in the tests) computes, bit for bit. One thread per word, grid-stride.
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

internal static class GpuDp4aProbe
{
    /// <summary>results I32 [3n] from a, b, c I32 [n].</summary>
    public static void Run(AcceleratorStream stream, ArrayView<int> a, ArrayView<int> b, ArrayView<int> c, ArrayView<int> results)
    {
        if (b.Length != a.Length || c.Length != a.Length || results.Length != 3 * a.Length)
            throw new ArgumentException($"dp4a probe: a, b, c must hold n = {a.Length} words and the results 3n, got {b.Length}, {c.Length}, {results.Length}.");
        if (a.Length == 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>>(Kernel)(stream, k.Stride(a.Length), a, b, c, results);
    }

    [GpuKernel]
    internal static void Kernel(ArrayView<int> a, ArrayView<int> b, ArrayView<int> c, ArrayView<int> results)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < a.Length; i += stride)
        {
            results[3 * i] = GpuDp4a.Dot4(a[i], b[i], c[i]);
            results[3 * i + 1] = GpuDp4a.Permute(a[i], b[i], 0x6420);
            results[3 * i + 2] = GpuDp4a.Permute(a[i], b[i], 0x7531);
        }
    }
}
