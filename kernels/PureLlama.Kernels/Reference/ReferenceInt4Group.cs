namespace PureLlama.Kernels.Reference;

/// <summary>
/// Plain float64 dequantization of the INT4 group format (GPTQ layout), the reference of its kernels:
/// ŵ[o, i] = scale[g, o]·(q[i, o] − z[g, o]), g = g_idx[i], q[i, o] = nibble i % 8 of qweight[i / 8, o],
/// z[g, o] = nibble o % 8 of qzeros[g, o / 8], scale F16 bits.
/// </summary>
internal static class ReferenceInt4Group
{
    /// <summary>Ŵ as float64 [out, in].</summary>
    public static double[] Dequantize(int rows, int cols, int[] qweight, int[] qzeros, ushort[] scales, int[] gIdx)
    {
        var w = new double[(long)rows * cols];
        for (int o = 0; o < rows; o++)
            for (int i = 0; i < cols; i++)
            {
                int g = gIdx[i];
                int q = (int)(((uint)qweight[(long)(i / 8) * rows + o] >> (4 * (i % 8))) & 0xF);
                int z = (int)(((uint)qzeros[(long)g * (rows / 8) + o / 8] >> (4 * (o % 8))) & 0xF);
                w[(long)o * cols + i] = ReferenceConvert.F16ToDouble(scales[(long)g * rows + o]) * (q - z);
            }
        return w;
    }
}
