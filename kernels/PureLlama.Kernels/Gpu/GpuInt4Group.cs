// INT4 group dequant-matmul on ILGPU (GPTQ layout: qweight I32 [in/8, out], qzeros I32 [groups, out/8],
// scales F16 bits [groups, out], g_idx I32 [in]).
//
//   ŵ[o, i] = s[g, o]·(q[i, o] − z[g, o]),  g = g_idx[i]
//   Forward     y[r, o] (=|+=) Σ_i x[r, i]·ŵ[o, i]     x [m, in],  y [m, out]
//   Transposed  y[r, i] (=|+=) Σ_o x[r, o]·ŵ[o, i]     x [m, out], y [m, in]
//   Dequantize  w[o, i] = ŵ[o, i]
// Thread mapping: grid-stride, one output element per thread. Forward threads of neighbouring o read
// neighbouring qweight words (coalesced) and reload s, z only when g_idx changes (once per group
// without act-order, so act-order costs extra loads but is handled in place). Scales are widened with
// integer ops (GpuBits.F16ToF32) so the GPU and the CPU accelerator agree.
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Sizes of an INT4 group product: x rows, weight rows (out) and columns (in), accumulate flag.</summary>
/// <param name="M">Rows of x and y.</param>
/// <param name="Rows">Output features (out).</param>
/// <param name="Cols">Input features (in).</param>
/// <param name="Accumulate">1: y +=, 0: y =.</param>
internal readonly record struct Int4GroupDims(int M, int Rows, int Cols, int Accumulate);

/// <summary>INT4 group dequant-matmul and dequantization on ILGPU.</summary>
internal static class GpuInt4Group
{
    /// <summary>y [m, out] (=|+=) x [m, in]·Ŵᵀ.</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> x, ArrayView<int> qweight, ArrayView<int> qzeros,
        ArrayView<ushort> scales, ArrayView<int> gIdx, ArrayView<float> y, Int4GroupDims dims) =>
        Launch(stream, ForwardKernel, (long)dims.M * dims.Rows, x, qweight, qzeros, scales, gIdx, y, dims);

    /// <summary>y [m, in] (=|+=) x [m, out]·Ŵ.</summary>
    public static void Transposed(AcceleratorStream stream, ArrayView<float> x, ArrayView<int> qweight, ArrayView<int> qzeros,
        ArrayView<ushort> scales, ArrayView<int> gIdx, ArrayView<float> y, Int4GroupDims dims) =>
        Launch(stream, TransposedKernel, (long)dims.M * dims.Cols, x, qweight, qzeros, scales, gIdx, y, dims);

    private static void Launch(AcceleratorStream stream,
        Action<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<ushort>, ArrayView<int>, ArrayView<float>, Int4GroupDims> kernel, long n,
        ArrayView<float> x, ArrayView<int> qweight, ArrayView<int> qzeros, ArrayView<ushort> scales, ArrayView<int> gIdx, ArrayView<float> y, Int4GroupDims dims)
    {
        if (n == 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load(kernel)(stream, k.Stride(n), x, qweight, qzeros, scales, gIdx, y, dims);
    }

    /// <summary>w [out, in] = Ŵ.</summary>
    public static void Dequantize(AcceleratorStream stream, ArrayView<int> qweight, ArrayView<int> qzeros,
        ArrayView<ushort> scales, ArrayView<int> gIdx, ArrayView<float> w, int rows, int cols)
    {
        long n = (long)rows * cols;
        if (n == 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<int>, ArrayView<int>, ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(DequantizeKernel)
            (stream, k.Stride(n), qweight, qzeros, scales, gIdx, w, rows, cols);
    }

    [GpuKernel]
    internal static void ForwardKernel(ArrayView<float> x, ArrayView<int> qweight, ArrayView<int> qzeros,
        ArrayView<ushort> scales, ArrayView<int> gIdx, ArrayView<float> y, Int4GroupDims d)
    {
        long total = (long)d.M * d.Rows;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long e = (long)Grid.IdxX * Group.DimX + Group.IdxX; e < total; e += stride)
        {
            int r = (int)(e / d.Rows), o = (int)(e % d.Rows);
            long xRow = (long)r * d.Cols;
            int gPrev = -1;
            float s = 0f, z = 0f, acc = 0f;
            for (int p = 0; p < d.Cols / 8; p++)
            {
                uint word = (uint)qweight[(long)p * d.Rows + o];
                for (int k = 0; k < 8; k++)
                {
                    int i = 8 * p + k;
                    int g = gIdx[i];
                    if (g != gPrev)
                    {
                        gPrev = g;
                        s = GpuBits.F16ToF32(scales[(long)g * d.Rows + o]);
                        z = Zero(qzeros, g, d.Rows, o);
                    }
                    float q = (word >> (4 * k)) & 15u;
                    acc += x[xRow + i] * (s * (q - z));
                }
            }
            y[e] = d.Accumulate != 0 ? y[e] + acc : acc;
        }
    }

    [GpuKernel]
    internal static void TransposedKernel(ArrayView<float> x, ArrayView<int> qweight, ArrayView<int> qzeros,
        ArrayView<ushort> scales, ArrayView<int> gIdx, ArrayView<float> y, Int4GroupDims d)
    {
        long total = (long)d.M * d.Cols;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long e = (long)Grid.IdxX * Group.DimX + Group.IdxX; e < total; e += stride)
        {
            int r = (int)(e / d.Cols), i = (int)(e % d.Cols);
            int g = gIdx[i];
            int p = i / 8, shift = 4 * (i % 8);
            long xRow = (long)r * d.Rows;
            float acc = 0f;
            for (int o = 0; o < d.Rows; o++)
            {
                float q = ((uint)qweight[(long)p * d.Rows + o] >> shift) & 15u;
                acc += x[xRow + o] * (GpuBits.F16ToF32(scales[(long)g * d.Rows + o]) * (q - Zero(qzeros, g, d.Rows, o)));
            }
            y[e] = d.Accumulate != 0 ? y[e] + acc : acc;
        }
    }

    [GpuKernel]
    internal static void DequantizeKernel(ArrayView<int> qweight, ArrayView<int> qzeros,
        ArrayView<ushort> scales, ArrayView<int> gIdx, ArrayView<float> w, int rows, int cols)
    {
        long total = (long)rows * cols;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long e = (long)Grid.IdxX * Group.DimX + Group.IdxX; e < total; e += stride)
        {
            int o = (int)(e / cols), i = (int)(e % cols);
            int g = gIdx[i];
            float q = ((uint)qweight[(long)(i / 8) * rows + o] >> (4 * (i % 8))) & 15u;
            w[e] = GpuBits.F16ToF32(scales[(long)g * rows + o]) * (q - Zero(qzeros, g, rows, o));
        }
    }

    /// <summary>z[g, o]: nibble o % 8 of qzeros[g, o / 8].</summary>
    private static float Zero(ArrayView<int> qzeros, int g, int rows, int o) =>
        ((uint)qzeros[(long)g * (rows / 8) + o / 8] >> (4 * (o % 8))) & 15u;
}
