namespace PureLlama.Kernels.Reference;

/// <summary>
/// Reference strided gather: dst (contiguous, row-major over <c>shape</c>) takes, element by element,
/// the bytes at src[baseOffset + Σ_d idx[d]·stridesBytes[d]].
/// </summary>
internal static class ReferenceStridedCopy
{
    /// <summary>Returns the contiguous copy.</summary>
    public static byte[] Copy(byte[] src, long baseOffset, long[] stridesBytes, int[] shape, int elementSize)
    {
        long count = 1;
        foreach (int s in shape) count *= s;
        var dst = new byte[count * elementSize];
        var idx = new int[shape.Length];
        for (long k = 0; k < count; k++)
        {
            // idx = the row-major multi-index of k
            long rem = k;
            for (int d = shape.Length - 1; d >= 0; d--) { idx[d] = (int)(rem % shape[d]); rem /= shape[d]; }
            long off = baseOffset;
            for (int d = 0; d < shape.Length; d++) off += idx[d] * stridesBytes[d];
            Array.Copy(src, off, dst, k * elementSize, elementSize);
        }
        return dst;
    }
}
