using System.Runtime.CompilerServices;
using ILGPU;

namespace PureLlama.Kernels.Gpu;

/*
 * INT8 weight × int8 activations, decode GEMV (M = 1..4 rows of x), with dp4a:
 *
 *   i[j, r, b] = Σ_{c∈b} q[r, c] · a[j, c]                     exact int32: 8 dp4a over the 4-byte words of block b
 *   y[j, r] (=|+=) (SCB[r] / 127) · Σ_b d[j, b] · i[j, r, b]      F32: a conversion and a multiply-add per block and row
 *
 * q I8 [out, in] (LLM.int8 storage), a/d the activations quantized to blocks of 32 (GpuQ8Activations; its padding is 0).
 * One warp per output row, 8 rows per group of 256 (launched like GpuNf4Gemv); lane l takes the blocks l, l + 32, …
 * and reads the block's eight weight words (32-bit loads when rows start 4-byte aligned; otherwise, and for the last
 * block of a row whose length is not a multiple of 32, words are assembled from bytes with the columns past `in`
 * zero) and, per x row, eight activation words. The lane partials of each x row are summed over the warp and lane 0
 * writes y (QuantGemvCommon.ReduceAndStore). Each x row's arithmetic is the same whatever M is.
 */
internal static class GpuInt8DotGemv
{
    [GpuKernel]
    public static void Kernel(QuantGemvShape p, Q8DeviceActivations a, Int8Operand w, ArrayView<float> y)
    {
        int warpSize = Warp.WarpSize;
        int row = Grid.IdxX * (Group.DimX / warpSize) + Warp.WarpIdx;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, scale = 0f;
        if (row < p.Out)
        {
            scale = w.Scale[row] * (1f / 127f);
            int rowBase = row * p.In, rowWords = a.Padded / 4;
            var words = w.Values.Cast<int>();
            var x = a.Values.Cast<int>();
            for (int b = Warp.LaneIdx; b < a.Blocks; b += warpSize)
            {
                int c0 = b * GpuQ8Activations.BlockSize, x0 = c0 / 4;
                bool aligned = w.Vectorized != 0 && c0 + GpuQ8Activations.BlockSize <= p.In;
                int i0 = 0, i1 = 0, i2 = 0, i3 = 0;
                for (int k = 0; k < 8; k++)
                {
                    int q = aligned ? words[(rowBase + c0) / 4 + k] : Word(w.Values, rowBase, c0 + 4 * k, p.In);
                    i0 = GpuDp4a.Dot4(q, x[x0 + k], i0);
                    if (p.M > 1) i1 = GpuDp4a.Dot4(q, x[rowWords + x0 + k], i1);
                    if (p.M > 2) i2 = GpuDp4a.Dot4(q, x[2 * rowWords + x0 + k], i2);
                    if (p.M > 3) i3 = GpuDp4a.Dot4(q, x[3 * rowWords + x0 + k], i3);
                }
                s0 += i0 * a.Scales[b];
                if (p.M > 1) s1 += i1 * a.Scales[a.Blocks + b];
                if (p.M > 2) s2 += i2 * a.Scales[2 * a.Blocks + b];
                if (p.M > 3) s3 += i3 * a.Scales[3 * a.Blocks + b];
            }
        }
        QuantGemvCommon.ReduceAndStore(p, y, row, scale, s0, s1, s2, s3);
    }

    /// <summary>Weight bytes rowBase + c … + 3 as a little-endian word, the columns at or past n zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Word(ArrayView<sbyte> values, int rowBase, int c, int n)
    {
        int word = 0;
        for (int t = 0; t < 4; t++)
            if (c + t < n) word |= (values[rowBase + c + t] & 0xFF) << (8 * t);
        return word;
    }
}
