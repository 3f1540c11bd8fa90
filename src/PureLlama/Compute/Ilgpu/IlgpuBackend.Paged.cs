using ILGPU;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void PagedKvStore(Tensor k, Tensor v, PagedLayout layout, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales)
    {
        var n = PagedChecks.Store(this, k, v, layout, kPool, vPool, kScales, vScales);
        var dims = PagedDims(n, layout, heads: n.KvHeads, scale: 1f);
        var (kF, kH, kQ, kS) = PoolViews(kPool, kScales);
        var (vF, vH, vQ, vS) = PoolViews(vPool, vScales);
        GpuPagedAttention.Store(Stream, F(k), F(v), I32(layout.SlotsTensor), layout.Rows, kF, kH, kQ, kS, vF, vH, vQ, vS, dims);
    }

    /// <inheritdoc/>
    public void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales, PagedLayout layout, Tensor output, float scale)
    {
        var (n, heads) = PagedChecks.Attention(this, q, kPool, vPool, kScales, vScales, layout, output, scale);
        if (n.HeadDim > GpuPagedAttention.MaxHeadDim)
            throw new ArgumentException($"PagedAttention: headDim {n.HeadDim} exceeds the {GpuPagedAttention.MaxHeadDim} the GPU kernel supports.", nameof(q));
        var (kF, kH, kQ, kS) = PoolViews(kPool, kScales);
        var (vF, vH, vQ, vS) = PoolViews(vPool, vScales);
        GpuPagedAttention.Forward(Stream, F(q), kF, kH, kQ, kS, vF, vH, vQ, vS, I32(layout.TablesTensor), I32(layout.SequenceInfoTensor),
            I32(layout.RowSequenceTensor), F(output), PagedDims(n, layout, heads, scale));
    }

    private static GpuPagedDims PagedDims(PagedChecks.PoolSizes n, PagedLayout layout, int heads, float scale) => new()
    {
        Rows = layout.Rows, Heads = heads, KvHeads = n.KvHeads, HeadDim = n.HeadDim, BlockSize = n.BlockSize, MaxBlocks = layout.MaxBlocks,
        DType = n.DType switch { DType.F32 => 0, DType.BF16 => 1, _ => 2 }, Scale = scale,
    };

    private (ArrayView<float> F, ArrayView<ushort> H, ArrayView<sbyte> Q, ArrayView<float> S) PoolViews(Tensor pool, Tensor? scales) => pool.DType switch
    {
        DType.F32 => (F(pool), ArrayView<ushort>.Empty, ArrayView<sbyte>.Empty, ArrayView<float>.Empty),
        DType.BF16 => (ArrayView<float>.Empty, U16(pool), ArrayView<sbyte>.Empty, ArrayView<float>.Empty),
        _ => (ArrayView<float>.Empty, ArrayView<ushort>.Empty, StorageOf(pool).View<sbyte>(pool.Offset, pool.Numel), F(scales!)),
    };
}
