using ILGPU;

namespace PureLlama.Kernels.Gpu;

/*
 * Whole-matrix dequantization, dst F32 [out, in] row-major (= the flattened element order):
 *   NF4   dst[2i], dst[2i+1] = quantMap[hi(packed[i])]·absmax(block(2i)), quantMap[lo(packed[i])]·absmax(block(2i+1))
 *   INT8  dst[r·in + c] = q[r, c]·SCB[r]/127
 * Grid-stride loops (thread t of group g starts at g·G + t): consecutive threads read consecutive
 * bytes and write consecutive floats.
 */
internal static class GpuQuantDequantize
{
    /// <summary>One thread per packed byte i (elements 2i and 2i+1 below n).</summary>
    [GpuKernel]
    public static void Nf4Kernel(Nf4Operand w, ArrayView<float> dst, int n)
    {
        int bytes = (n + 1) / 2;
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.IdxX * Group.DimX + Group.IdxX; i < bytes; i += stride)
        {
            int packedByte = w.Packed[i];
            int e = 2 * i;
            dst[e] = w.QuantMap[packedByte >> 4] * w.BlockAbsmax(e >> w.BlockShift);
            if (e + 1 < n) dst[e + 1] = w.QuantMap[packedByte & 15] * w.BlockAbsmax((e + 1) >> w.BlockShift);
        }
    }

    /// <summary>One thread per element.</summary>
    [GpuKernel]
    public static void Int8Kernel(Int8Operand w, ArrayView<float> dst, int rows)
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
