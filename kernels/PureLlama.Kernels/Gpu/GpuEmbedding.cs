// Embedding gather and scatter-add (GPU form of Embedding in docs/kernels/contracts.md).
//
// Gather:     y[i, :] = table[ids[i], :]   (table F32, or BF16 widened to F32)
// ScatterAdd: dTable[ids[i], :] += dy[i, :]
// Thread mapping: one group per looked-up row i; threads stride over the dim columns (coalesced
// reads of one table row). ScatterAdd uses Atomic.Add because several i may name the same id:
// on the GPU the order of the additions to a repeated id (and so the last bits) may vary run to
// run; the CPU kernel is the deterministic one.
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Embedding lookup and its gradient on ILGPU.</summary>
internal static class GpuEmbedding
{
    /// <summary>y [n, dim] = table[ids] for an F32 table [vocab, dim].</summary>
    public static void Gather(AcceleratorStream stream, ArrayView<float> table, ArrayView<int> ids, ArrayView<float> y, int n, int dim)
    {
        if (n <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, int>(GatherKernel)
            (stream, k.PerRow(n), table, ids, y, dim);
    }

    /// <summary>y [n, dim] = table[ids] for a BF16 table [vocab, dim] (ushort bits).</summary>
    public static void Gather(AcceleratorStream stream, ArrayView<ushort> table, ArrayView<int> ids, ArrayView<float> y, int n, int dim)
    {
        if (n <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int>(GatherBf16Kernel)
            (stream, k.PerRow(n), table, ids, y, dim);
    }

    /// <summary>dTable[ids[i]] += dy[i] for dy [n, dim].</summary>
    public static void ScatterAdd(AcceleratorStream stream, ArrayView<float> dy, ArrayView<int> ids, ArrayView<float> dTable, int n, int dim)
    {
        if (n <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<int>, ArrayView<float>, int>(ScatterAddKernel)
            (stream, k.PerRow(n), dy, ids, dTable, dim);
    }

    [GpuKernel]
    internal static void GatherKernel(ArrayView<float> table, ArrayView<int> ids, ArrayView<float> y, int dim)
    {
        long src = (long)ids[Grid.IdxX] * dim, dst = (long)Grid.IdxX * dim;
        for (int c = Group.IdxX; c < dim; c += Group.DimX) y[dst + c] = table[src + c];
    }

    [GpuKernel]
    internal static void GatherBf16Kernel(ArrayView<ushort> table, ArrayView<int> ids, ArrayView<float> y, int dim)
    {
        long src = (long)ids[Grid.IdxX] * dim, dst = (long)Grid.IdxX * dim;
        for (int c = Group.IdxX; c < dim; c += Group.DimX) y[dst + c] = GpuBits.Bf16ToF32(table[src + c]);
    }

    [GpuKernel]
    internal static void ScatterAddKernel(ArrayView<float> dy, ArrayView<int> ids, ArrayView<float> dTable, int dim)
    {
        long dst = (long)ids[Grid.IdxX] * dim, src = (long)Grid.IdxX * dim;
        for (int c = Group.IdxX; c < dim; c += Group.DimX) Atomic.Add(ref dTable[dst + c], dy[src + c]);
    }
}
