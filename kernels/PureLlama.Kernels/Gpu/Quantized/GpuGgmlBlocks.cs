using System.Runtime.CompilerServices;
using ILGPU;
using PureLlama.Kernels.Blocks;

namespace PureLlama.Kernels.Gpu;

/*
 * ggml block-format weights on ILGPU, generic over the format T (its Element decodes one value):
 *
 *   ŵ[r, c] = T.Element(blocks, r·rowBytes + (c / BV)·BB, c mod BV)
 *   GEMV        y[i, r] (=|+=) Σ_c x[i, c]·ŵ[r, c]      i < M ≤ 4: one warp per row r, lane l takes
 *               c = l, l + 32, …, so a warp step reads one block's bytes (coalesced); shuffle-tree sum
 *   GEMM        GpuTiledMatmul with ŵ decoded as the B tile is staged in shared memory
 *               (forward TransB = 1: B(k, n) = ŵ[n, k]; transposed TransB = 0: B(k, n) = ŵ[k, n])
 *   Dequantize  dst[e] = ŵ[e / in, e mod in], grid-stride
 * Scales are re-read per value (from L1); the int8-activation fast path is the CPU's (docs/kernels/gguf-blocks.md).
 */

/// <summary>A block-format weight as kernel data.</summary>
internal struct GgmlBlockOperand<T> : IGemmOperandB where T : struct, IGpuBlockFormat
{
    public ArrayView<byte> Blocks;   // U8 [out · RowBytes]
    public int In, RowBytes, BlockValues, BlockBytes;

    /// <summary>ŵ[r, c].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Element(int r, int c)
    {
        int b = c / BlockValues;
        return default(T).Element(Blocks, r * RowBytes + b * BlockBytes, c - b * BlockValues);
    }

    /// <summary>GEMM operand: forward (p.TransB = 1) reads Ŵ[n, k]; transposed (p.TransB = 0) reads Ŵ[k, n].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Load(GemmShape p, int k, int n) => p.TransB != 0 ? Element(n, k) : Element(k, n);
}

internal static class GpuGgmlBlocks
{
    [GpuKernel(typeof(IBlockFormat))]
    public static void GemvKernel<T>(QuantGemvShape p, ArrayView<float> x, GgmlBlockOperand<T> w, ArrayView<float> y)
        where T : struct, IGpuBlockFormat
    {
        int warpSize = Warp.WarpSize;
        int row = Grid.IdxX * (Group.DimX / warpSize) + Warp.WarpIdx;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        if (row < p.Out)
        {
            for (int c = Warp.LaneIdx; c < p.In; c += warpSize)
            {
                float wv = w.Element(row, c);
                s0 += x[c] * wv;
                if (p.M > 1) s1 += x[p.In + c] * wv;
                if (p.M > 2) s2 += x[2 * p.In + c] * wv;
                if (p.M > 3) s3 += x[3 * p.In + c] * wv;
            }
        }
        QuantGemvCommon.ReduceAndStore(p, y, row, 1f, s0, s1, s2, s3);
    }

    [GpuKernel(typeof(IBlockFormat))]
    public static void GemmKernel<T>(GemmShape p, ArrayView<float> x, GgmlBlockOperand<T> w, ArrayView<float> y)
        where T : struct, IGpuBlockFormat =>
        GpuTiledMatmul.Run<float, F32Widen, GgmlBlockOperand<T>>(p, x, w, y);

    [GpuKernel(typeof(IBlockFormat))]
    public static void DequantizeKernel<T>(GgmlBlockOperand<T> w, ArrayView<float> dst, int rows)
        where T : struct, IGpuBlockFormat
    {
        int n = rows * w.In;
        int stride = Grid.DimX * Group.DimX;
        for (int e = Grid.IdxX * Group.DimX + Group.IdxX; e < n; e += stride)
        {
            int r = e / w.In;
            dst[e] = w.Element(r, e - r * w.In);
        }
    }
}
