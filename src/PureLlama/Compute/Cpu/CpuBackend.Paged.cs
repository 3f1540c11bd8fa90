using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void PagedKvStore(Tensor k, Tensor v, PagedLayout layout, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales)
    {
        var n = PagedChecks.Store(this, k, v, layout, kPool, vPool, kScales, vScales);
        Kernels.Simd.SimdPagedAttention.Store(k.Pointer<float>(), v.Pointer<float>(), layout.SlotsTensor.Pointer<int>(), layout.Rows, n.KvHeads, n.HeadDim, n.BlockSize,
            Pool(kPool, kScales), Pool(vPool, vScales));
    }

    /// <inheritdoc/>
    public void PagedAttention(Tensor q, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales, PagedLayout layout, Tensor output, float scale)
    {
        var (n, heads) = PagedChecks.Attention(this, q, kPool, vPool, kScales, vScales, layout, output, scale);
        var p = new PagedAttentionProblem(layout.Rows, heads, n.KvHeads, n.HeadDim, n.BlockSize, layout.Sequences, layout.MaxBlocks, scale,
            layout.TablesTensor.Pointer<int>(), layout.SequenceInfoTensor.Pointer<int>());
        Kernels.Simd.SimdPagedAttention.Forward(q.Pointer<float>(), Pool(kPool, kScales), Pool(vPool, vScales), output.Pointer<float>(), p);
    }

    private static PagedKvPool Pool(Tensor pool, Tensor? scales) => new(pool.Pointer<byte>(), scales is null ? null : scales.Pointer<float>(),
        pool.DType switch { DType.F32 => PagedKvType.F32, DType.BF16 => PagedKvType.Bf16, _ => PagedKvType.Int8 });
}
