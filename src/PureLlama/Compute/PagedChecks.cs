using PureLlama.Kernels;
using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>Shape and dtype validation of the paged KV ops, shared by every backend.</summary>
internal static class PagedChecks
{
    public readonly record struct PoolSizes(int Blocks, int BlockSize, int KvHeads, int HeadDim, DType DType);

    public static PoolSizes Pools(IBackend be, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales, PagedLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        foreach (var (t, name) in new[] { (kPool, nameof(kPool)), (vPool, nameof(vPool)) })
        {
            Check.OnDevice(be, t, name);
            Check.Contiguous(t, name);
            if (t.Rank != 4) throw new ArgumentException($"Paged KV: {name} {t.Describe()} must be [blocks, kvHeads, blockSize, headDim].", name);
            if (t.DType is not (DType.F32 or DType.BF16 or DType.I8)) throw new ArgumentException($"Paged KV: {name} {t.Describe()} must be F32, BF16 or I8.", name);
        }
        Check.SameShape(kPool, vPool, nameof(kPool), nameof(vPool));
        if (kPool.DType != vPool.DType) throw new ArgumentException($"Paged KV: kPool {kPool.Describe()} and vPool {vPool.Describe()} must have the same dtype.", nameof(vPool));
        var sizes = new PoolSizes(kPool.Shape[0], kPool.Shape[2], kPool.Shape[1], kPool.Shape[3], kPool.DType);
        if (sizes.BlockSize != layout.BlockSize) throw new ArgumentException($"Paged KV: the pool's blocks hold {sizes.BlockSize} positions; the layout's {layout.BlockSize}.", nameof(layout));
        if (sizes.Blocks != layout.PoolBlocks) throw new ArgumentException($"Paged KV: the pool has {sizes.Blocks} blocks; the layout was built for {layout.PoolBlocks}.", nameof(layout));
        bool int8 = sizes.DType == DType.I8;
        foreach (var (t, name) in new[] { (kScales, nameof(kScales)), (vScales, nameof(vScales)) })
        {
            if (!int8)
            {
                if (t is not null) throw new ArgumentException($"Paged KV: {name} is only for I8 pools.", name);
                continue;
            }
            if (t is null) throw new ArgumentException($"Paged KV: an I8 pool needs {name} [blocks, kvHeads, blockSize] F32.", name);
            Check.F32(be, t, name);
            Check.Shape(t, new Shape(sizes.Blocks, sizes.KvHeads, sizes.BlockSize), name);
        }
        return sizes;
    }

    public static PoolSizes Store(IBackend be, Tensor k, Tensor v, PagedLayout layout, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales)
    {
        var sizes = Pools(be, kPool, vPool, kScales, vScales, layout);
        Check.F32(be, k, nameof(k));
        Check.F32(be, v, nameof(v));
        Check.Shape(k, new Shape(layout.Rows, sizes.KvHeads, sizes.HeadDim), nameof(k));
        Check.Shape(v, new Shape(layout.Rows, sizes.KvHeads, sizes.HeadDim), nameof(v));
        return sizes;
    }

    public static (PoolSizes Pool, int Heads) Attention(IBackend be, Tensor q, Tensor kPool, Tensor vPool, Tensor? kScales, Tensor? vScales, PagedLayout layout, Tensor output, float scale)
    {
        var sizes = Pools(be, kPool, vPool, kScales, vScales, layout);
        Check.F32(be, q, nameof(q));
        if (q.Rank != 3 || q.Shape[0] != layout.Rows || q.Shape[2] != sizes.HeadDim)
            throw new ArgumentException($"PagedAttention: q {q.Describe()} must be [{layout.Rows}, heads, {sizes.HeadDim}].", nameof(q));
        int heads = q.Shape[1];
        if (!AttentionRules.HeadsFit(heads, sizes.KvHeads)) throw new ArgumentException($"PagedAttention: {heads} query heads are not a multiple of the pool's {sizes.KvHeads} KV heads.", nameof(q));
        Check.F32Out(be, output, nameof(output));
        Check.Shape(output, q.Shape, nameof(output));
        if (!AttentionRules.ScaleValid(scale)) throw new ArgumentException($"PagedAttention: scale {scale} must be finite and non-zero.", nameof(scale));
        return (sizes, heads);
    }
}
