// PagedAttention and the paged KV store on ILGPU (GPU form of IBackend.PagedAttention / PagedKvStore).
//
// Math (see Simd/PagedAttention.cs): row i of sequence s at position pos = ctx − rows + (i − first) sees keys
// 0..pos, found at pool row (table[s, j / B]·B + j mod B)·kvHeads + kvh; scores s_j = scale·q_i·k_j, online softmax
//   m' = max(m, s_j), α = e^(m − m'), l = α·l + e^(s_j − m'), acc = α·acc + e^(s_j − m')·v_j, o = acc / l.
// Mapping: one warp per (row, head); lanes split head_dim (acc in registers, ≤ MaxHeadDim / W per lane),
// dot products reduce with warp shuffles. Pools are read as F32, BF16 bits or INT8 codes × scale (dtype 0/1/2;
// the unused views are empty). A row's arithmetic does not depend on the other rows or on the block size.
// Store: grid-stride over (row, KV head); INT8 rows are quantized by one thread (scale = max|x| / 127).
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Sizes of a GPU paged attention launch (see PagedAttentionProblem on the CPU).</summary>
internal struct GpuPagedDims
{
    /// <summary>Query rows, heads, KV heads, head width, positions per block, block table columns.</summary>
    public int Rows, Heads, KvHeads, HeadDim, BlockSize, MaxBlocks;
    /// <summary>Pool element type: 0 F32, 1 BF16, 2 INT8.</summary>
    public int DType;
    /// <summary>Softmax scale.</summary>
    public float Scale;
}

/// <summary>Paged attention and paged KV store kernels on ILGPU.</summary>
internal static class GpuPagedAttention
{
    /// <summary>Largest head_dim (per-lane registers).</summary>
    public const int MaxHeadDim = 256;

    /// <summary>o [rows, heads, d] from q [rows, heads, d] and the pools; rowSeq I32 [rows] (sequence of each row), seqInfo I32 [S, 3], tables I32 [S, MaxBlocks].</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> kF, ArrayView<ushort> kH, ArrayView<sbyte> kQ, ArrayView<float> kS,
        ArrayView<float> vF, ArrayView<ushort> vH, ArrayView<sbyte> vQ, ArrayView<float> vS, ArrayView<int> tables, ArrayView<int> seqInfo, ArrayView<int> rowSeq,
        ArrayView<float> o, GpuPagedDims p)
    {
        if (p.Rows == 0) return;
        int warp = Math.Max(1, stream.Accelerator.WarpSize);
        GpuKernelCache.For(stream).Load<ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<sbyte>,
                ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<sbyte>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>,
                ArrayView<float>, GpuPagedDims>(ForwardKernel)
            (stream, new KernelConfig(p.Rows * p.Heads, warp), q, kF, kH, kQ, kS, vF, vH, vQ, vS, tables, seqInfo, rowSeq, o, p);
    }

    /// <summary>Writes k, v [n, kvHeads, d] (F32) into the pools at slots I32 [n].</summary>
    public static void Store(AcceleratorStream stream, ArrayView<float> k, ArrayView<float> v, ArrayView<int> slots, int n,
        ArrayView<float> kF, ArrayView<ushort> kH, ArrayView<sbyte> kQ, ArrayView<float> kS,
        ArrayView<float> vF, ArrayView<ushort> vH, ArrayView<sbyte> vQ, ArrayView<float> vS, GpuPagedDims p)
    {
        if (n == 0) return;
        var cache = GpuKernelCache.For(stream);
        cache.Load<ArrayView<float>, ArrayView<float>, ArrayView<int>, int,
                ArrayView<float>, ArrayView<ushort>, ArrayView<sbyte>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<sbyte>, ArrayView<float>, GpuPagedDims>(StoreKernel)
            (stream, cache.Stride((long)n * p.KvHeads), k, v, slots, n, kF, kH, kQ, kS, vF, vH, vQ, vS, p);
    }

    private static float Load(ArrayView<float> f, ArrayView<ushort> h, ArrayView<sbyte> q, ArrayView<float> s, int dtype, long index, long row)
    {
        if (dtype == 0) return f[index];
        if (dtype == 1) return GpuBits.Bf16ToF32(h[index]);
        return q[index] * s[row];
    }

    [GpuKernel]
    internal static void ForwardKernel(ArrayView<float> q, ArrayView<float> kF, ArrayView<ushort> kH, ArrayView<sbyte> kQ, ArrayView<float> kS,
        ArrayView<float> vF, ArrayView<ushort> vH, ArrayView<sbyte> vQ, ArrayView<float> vS, ArrayView<int> tables, ArrayView<int> seqInfo, ArrayView<int> rowSeq,
        ArrayView<float> o, GpuPagedDims p)
    {
        var acc = LocalMemory.Allocate<float>(MaxHeadDim);
        int d = p.HeadDim, lane = Group.IdxX, w = Group.DimX;
        int row = Grid.IdxX / p.Heads, h = Grid.IdxX % p.Heads, kvh = AttentionRules.KvHead(h, p.Heads, p.KvHeads);
        int seq = rowSeq[row];
        int first = seqInfo[3 * seq], rows = seqInfo[3 * seq + 1], ctx = seqInfo[3 * seq + 2];
        int pos = AttentionRules.PagedPosition(ctx, rows, row, first);
        long qRow = ((long)row * p.Heads + h) * d;
        int per = (d + w - 1) / w;
        for (int u = 0; u < per; u++) acc[u] = 0f;
        float m = float.NegativeInfinity, l = 0f;
        for (int j = 0; j <= pos; j++)
        {
            long slotRow = AttentionRules.PagedRow((long)tables[(long)seq * p.MaxBlocks + j / p.BlockSize] * p.BlockSize + j % p.BlockSize, p.BlockSize, p.KvHeads, kvh);
            long kRow = slotRow * d;
            float part = 0f;
            for (int u = 0; u < per; u++)
            {
                int c = lane + u * w;
                if (c < d) part += q[qRow + c] * Load(kF, kH, kQ, kS, p.DType, kRow + c, slotRow);
            }
            float s = GpuGroupReduce.WarpSum(part) * p.Scale;
            var step = GpuOnlineSoftmax.Next(m, l, s);
            m = step.Max;
            l = step.Sum;
            for (int u = 0; u < per; u++)
            {
                int c = lane + u * w;
                if (c < d) acc[u] = acc[u] * step.Alpha + step.Weight * Load(vF, vH, vQ, vS, p.DType, kRow + c, slotRow);
            }
        }
        float inv = 1f / l;
        for (int u = 0; u < per; u++)
        {
            int c = lane + u * w;
            if (c < d) o[qRow + c] = acc[u] * inv;
        }
    }

    [GpuKernel]
    internal static void StoreKernel(ArrayView<float> k, ArrayView<float> v, ArrayView<int> slots, int n,
        ArrayView<float> kF, ArrayView<ushort> kH, ArrayView<sbyte> kQ, ArrayView<float> kS,
        ArrayView<float> vF, ArrayView<ushort> vH, ArrayView<sbyte> vQ, ArrayView<float> vS, GpuPagedDims p)
    {
        long total = (long)n * p.KvHeads;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long item = (long)Grid.IdxX * Group.DimX + Group.IdxX; item < total; item += stride)
        {
            long i = item / p.KvHeads, h = item % p.KvHeads;
            long src = item * p.HeadDim, row = AttentionRules.PagedRow(slots[i], p.BlockSize, p.KvHeads, (int)h);
            StoreRow(k, src, kF, kH, kQ, kS, row, p);
            StoreRow(v, src, vF, vH, vQ, vS, row, p);
        }
    }

    private static void StoreRow(ArrayView<float> x, long src, ArrayView<float> f, ArrayView<ushort> hv, ArrayView<sbyte> qv, ArrayView<float> s, long row, GpuPagedDims p)
    {
        int d = p.HeadDim;
        long dst = row * d;
        if (p.DType == 0) { for (int c = 0; c < d; c++) f[dst + c] = x[src + c]; return; }
        if (p.DType == 1) { for (int c = 0; c < d; c++) hv[dst + c] = GpuBits.F32ToBf16(x[src + c]); return; }
        float amax = 0f;
        for (int c = 0; c < d; c++) amax = XMath.Max(amax, XMath.Abs(x[src + c]));
        if (amax == 0f)
        {
            for (int c = 0; c < d; c++) qv[dst + c] = 0;
            s[row] = 0f;
            return;
        }
        float inv = 127f / amax;
        for (int c = 0; c < d; c++) qv[dst + c] = (sbyte)XMath.Clamp(XMath.Floor(x[src + c] * inv + 0.5f), -127f, 127f);
        s[row] = amax / 127f;
    }
}
