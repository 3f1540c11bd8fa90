namespace PureLlama.Kernels.Reference;

/// <summary>
/// Plain float64 dequantization of the packed weight formats and dequantize-then-matmul, the reference
/// for every dequant-matmul kernel (CPU and GPU). Layouts as bitsandbytes stores them:
/// <list type="bullet">
/// <item>NF4 [rows, cols]: flattened row-major (e = r·cols + c), blocks of <c>blockSize</c> consecutive elements
/// (crossing row ends); byte e/2 holds element e in its high nibble when e is even, low nibble when odd;
/// ŵ[e] = codeMap[nibble]·absmax[e / blockSize].</item>
/// <item>Double quantization: absmax[b] = nestedMap[codes[b]]·nestedAbsmax[b / nestedBlockSize] + nestedOffset.</item>
/// <item>INT8 [rows, cols]: ŵ[r, c] = q[r, c]·scb[r] / 127.</item>
/// </list>
/// </summary>
public static class ReferenceQuant
{
    /// <summary>The plain absmaxes of a double-quantized NF4 weight: map[code]·nested[b / nestedBlockSize] + offset.</summary>
    public static double[] NestedAbsmax(ReadOnlySpan<byte> codes, ReadOnlySpan<float> nestedAbsmax, ReadOnlySpan<float> nestedMap,
        float nestedOffset, int nestedBlockSize)
    {
        var a = new double[codes.Length];
        for (int b = 0; b < a.Length; b++)
            a[b] = (double)nestedMap[codes[b]] * nestedAbsmax[b / nestedBlockSize] + nestedOffset;
        return a;
    }

    /// <summary>Dequantizes an NF4 weight with F32 absmaxes → row-major [rows, cols].</summary>
    public static double[] DequantizeNf4(ReadOnlySpan<byte> packed, ReadOnlySpan<float> codeMap, ReadOnlySpan<float> absmax,
        int blockSize, int rows, int cols)
    {
        var a = new double[absmax.Length];
        for (int b = 0; b < a.Length; b++) a[b] = absmax[b];
        return DequantizeNf4(packed, codeMap, a, blockSize, rows, cols);
    }

    /// <summary>Dequantizes a double-quantized NF4 weight (U8 absmax codes + nested scales) → row-major [rows, cols].</summary>
    public static double[] DequantizeNf4(ReadOnlySpan<byte> packed, ReadOnlySpan<float> codeMap, ReadOnlySpan<byte> absmaxCodes,
        ReadOnlySpan<float> nestedAbsmax, ReadOnlySpan<float> nestedMap, float nestedOffset, int blockSize, int nestedBlockSize,
        int rows, int cols) =>
        DequantizeNf4(packed, codeMap, NestedAbsmax(absmaxCodes, nestedAbsmax, nestedMap, nestedOffset, nestedBlockSize),
            blockSize, rows, cols);

    /// <summary>Dequantizes NF4 given the absmaxes already in float64.</summary>
    public static double[] DequantizeNf4(ReadOnlySpan<byte> packed, ReadOnlySpan<float> codeMap, double[] absmax,
        int blockSize, int rows, int cols)
    {
        long n = (long)rows * cols;
        if (packed.Length < (n + 1) / 2) throw new ArgumentException($"packed holds {packed.Length} bytes, [{rows}, {cols}] needs {(n + 1) / 2}.", nameof(packed));
        if (absmax.Length < (n + blockSize - 1) / blockSize) throw new ArgumentException($"absmax holds {absmax.Length} blocks, too few for [{rows}, {cols}].", nameof(absmax));
        var w = new double[n];
        for (long e = 0; e < n; e++)
        {
            byte v = packed[(int)(e >> 1)];
            int code = (e & 1) == 0 ? v >> 4 : v & 15;
            w[e] = codeMap[code] * absmax[e / blockSize];
        }
        return w;
    }

    /// <summary>Dequantizes a row-wise INT8 weight: ŵ[r, c] = q[r, c]·scb[r] / 127 → row-major [rows, cols].</summary>
    public static double[] DequantizeInt8(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scb, int rows, int cols)
    {
        var w = new double[(long)rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                w[(long)r * cols + c] = q[r * cols + c] * (double)scb[r] / 127.0;
        return w;
    }

    /// <summary>Y[m, rows] = X[m, cols] · Ŵᵀ for Ŵ [rows, cols] (the Linear forward).</summary>
    public static double[] MatmulWeightT(double[] x, int m, double[] w, int rows, int cols) =>
        ReferenceMatmul.Matmul(m, rows, cols, x, cols, false, w, cols, true);

    /// <summary>Y[m, cols] = X[m, rows] · Ŵ for Ŵ [rows, cols] (the Linear input gradient dX = dY·W).</summary>
    public static double[] MatmulWeight(double[] x, int m, double[] w, int rows, int cols) =>
        ReferenceMatmul.Matmul(m, cols, rows, x, rows, false, w, cols, false);
}
