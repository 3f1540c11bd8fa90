using PureLlama.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// Packing of 4-bit codes into int32 words, in the two layouts of the checkpoints people publish.
/// GPTQ (AutoGPTQ / GPTQModel): qweight [in/8, out], word[p, o] = Σₖ q[8p+k, o] &lt;&lt; 4k; qzeros
/// [groups, out/8], word[g, j] = Σₖ z[g, 8j+k] &lt;&lt; 4k. AWQ GEMM (AutoAWQ): qweight [in, out/8] and
/// qzeros [groups, out/8], word[·, j] = Σₖ v[·, 8j + Order[k]] &lt;&lt; 4k with Order = [0, 2, 4, 6, 1, 3, 5, 7].
/// </summary>
public static class Int4Packing
{
    /// <summary>AutoAWQ's nibble order: nibble k of a word holds column 8j + AwqOrder[k].</summary>
    public static ReadOnlySpan<int> AwqOrder => [0, 2, 4, 6, 1, 3, 5, 7];

    /// <summary>GPTQ qweight I32 [in/8, out] from codes [out, in].</summary>
    public static int[] PackWeight(byte[] codes, int rows, int cols)
    {
        CheckMultiple8(rows, cols);
        var packed = new int[(long)cols / 8 * rows];
        Parallel.For(0, cols / 8, p =>
        {
            for (int o = 0; o < rows; o++)
            {
                long src = (long)o * cols + 8 * p;
                uint word = 0;
                for (int k = 0; k < 8; k++) word |= (uint)(codes[src + k] & 0xF) << (4 * k);
                packed[(long)p * rows + o] = (int)word;
            }
        });
        return packed;
    }

    /// <summary>Codes [out, in] from a GPTQ qweight I32 [in/8, out].</summary>
    public static byte[] UnpackWeight(int[] qweight, int rows, int cols)
    {
        CheckMultiple8(rows, cols);
        if (qweight.Length != (long)cols / 8 * rows) throw new ArgumentException($"qweight has {qweight.Length} words, expected [{cols / 8}, {rows}].", nameof(qweight));
        var codes = new byte[(long)rows * cols];
        Parallel.For(0, cols / 8, p =>
        {
            for (int o = 0; o < rows; o++)
            {
                uint word = (uint)qweight[(long)p * rows + o];
                for (int k = 0; k < 8; k++) codes[(long)o * cols + 8 * p + k] = (byte)((word >> (4 * k)) & 0xF);
            }
        });
        return codes;
    }

    /// <summary>GPTQ qzeros I32 [groups, out/8] from zero points [groups, out] (row-major; also packs AWQ-free rows of any 4-bit values).</summary>
    public static int[] PackZeros(byte[] zeros, int groups, int rows) => PackRows(zeros, groups, rows, sequential: true);

    /// <summary>Zero points [groups, out] from a GPTQ qzeros I32 [groups, out/8].</summary>
    public static byte[] UnpackZeros(int[] qzeros, int groups, int rows) => UnpackRows(qzeros, groups, rows, sequential: true);

    /// <summary>
    /// True zero points from AutoGPTQ's "v1" qzeros, which store z − 1 per nibble (a historical offset; the
    /// symmetric 4-bit zero 8 is stored as 7): adds 1 to every nibble (mod 16).
    /// </summary>
    public static int[] ZerosFromV1(int[] qzerosV1) => AddToNibbles(qzerosV1, 1);

    /// <summary>AutoGPTQ "v1" qzeros (z − 1 per nibble, mod 16) from true zero points, for export.</summary>
    public static int[] ZerosToV1(int[] qzeros) => AddToNibbles(qzeros, 15);

    /// <summary>
    /// Repacks an AutoAWQ GEMM weight into the GPTQ layout (AWQ is the same math with true zero points
    /// and consecutive groups): qweight I32 [in, out/8], qzeros I32 [in/groupSize, out/8], scales F16
    /// [in/groupSize, out] (host arrays). g_idx = i / groupSize.
    /// </summary>
    public static Int4GroupTensor FromAwq(int[] qweight, int[] qzeros, ushort[] scales, int rows, int cols, int groupSize, Device? device = null)
    {
        CheckMultiple8(rows, cols);
        if (groupSize <= 0 || cols % groupSize != 0) throw new ArgumentException($"AWQ group size {groupSize} must divide in = {cols}.", nameof(groupSize));
        int groups = cols / groupSize;
        if (qweight.Length != (long)cols * rows / 8) throw new ArgumentException($"AWQ qweight has {qweight.Length} words, expected [{cols}, {rows / 8}].", nameof(qweight));
        if (qzeros.Length != (long)groups * rows / 8) throw new ArgumentException($"AWQ qzeros has {qzeros.Length} words, expected [{groups}, {rows / 8}].", nameof(qzeros));
        if (scales.Length != (long)groups * rows) throw new ArgumentException($"AWQ scales has {scales.Length} elements, expected [{groups}, {rows}].", nameof(scales));
        var codesT = UnpackRows(qweight, cols, rows, sequential: false); // [in, out]
        var codes = new byte[codesT.Length];                              // [out, in]
        for (int i = 0; i < cols; i++)
            for (int o = 0; o < rows; o++) codes[(long)o * cols + i] = codesT[(long)i * rows + o];
        var zeros = UnpackRows(qzeros, groups, rows, sequential: false);
        bool symmetric = Array.TrueForAll(zeros, z => z == 8);
        var gIdx = new int[cols];
        for (int i = 0; i < cols; i++) gIdx[i] = i / groupSize;
        return new Int4GroupTensor(new Shape(rows, cols), groupSize, groups, symmetric,
            Tensor.FromArray(PackWeight(codes, rows, cols), new Shape(cols / 8, rows), device),
            Tensor.FromArray(PackZeros(zeros, groups, rows), new Shape(groups, rows / 8), device),
            Tensor.FromSpan<ushort>(scales, new Shape(groups, rows), DType.F16, device),
            Tensor.FromArray(gIdx, new Shape(cols), device));
    }

    /// <summary>AutoAWQ GEMM arrays (qweight [in, out/8], qzeros [groups, out/8]) of a weight without act-order.</summary>
    public static (int[] QWeight, int[] QZeros) ToAwq(GroupQuantized w)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.Bits != 4 || !w.IsSequential) throw new ArgumentException("AWQ's layout holds 4-bit weights with consecutive groups (no act-order).", nameof(w));
        var codesT = new byte[w.Codes.Length]; // [in, out]
        for (int o = 0; o < w.Rows; o++)
            for (int i = 0; i < w.Columns; i++) codesT[(long)i * w.Rows + o] = w.Codes[(long)o * w.Columns + i];
        return (PackRows(codesT, w.Columns, w.Rows, sequential: false), PackRows(w.Zeros, w.Groups, w.Rows, sequential: false));
    }

    /// <summary>Packs each row of [rows, cols] 4-bit values into cols/8 words, nibbles in order or in AWQ order.</summary>
    private static int[] PackRows(byte[] values, int rows, int cols, bool sequential)
    {
        if (cols % 8 != 0 || values.Length != (long)rows * cols) throw new ArgumentException($"Cannot pack {values.Length} values as [{rows}, {cols}] (cols a multiple of 8).");
        int[] order = sequential ? [0, 1, 2, 3, 4, 5, 6, 7] : AwqOrder.ToArray();
        var packed = new int[(long)rows * cols / 8];
        for (long w = 0; w < packed.Length; w++)
        {
            uint word = 0;
            for (int k = 0; k < 8; k++) word |= (uint)(values[8 * w + order[k]] & 0xF) << (4 * k);
            packed[w] = (int)word;
        }
        return packed;
    }

    private static byte[] UnpackRows(int[] packed, int rows, int cols, bool sequential)
    {
        if (cols % 8 != 0 || packed.Length != (long)rows * cols / 8) throw new ArgumentException($"{packed.Length} words do not hold [{rows}, {cols}] 4-bit values.");
        int[] order = sequential ? [0, 1, 2, 3, 4, 5, 6, 7] : AwqOrder.ToArray();
        var values = new byte[(long)rows * cols];
        for (long w = 0; w < packed.Length; w++)
            for (int k = 0; k < 8; k++) values[8 * w + order[k]] = (byte)(((uint)packed[w] >> (4 * k)) & 0xF);
        return values;
    }

    private static int[] AddToNibbles(int[] words, int add)
    {
        var result = new int[words.Length];
        for (int w = 0; w < words.Length; w++)
        {
            uint word = 0;
            for (int k = 0; k < 8; k++) word |= (uint)((((uint)words[w] >> (4 * k)) + add) & 0xF) << (4 * k);
            result[w] = (int)word;
        }
        return result;
    }

    private static void CheckMultiple8(int rows, int cols)
    {
        if (rows <= 0 || cols <= 0 || rows % 8 != 0 || cols % 8 != 0)
            throw new ArgumentException($"4-bit packing needs out and in to be positive multiples of 8, got [{rows}, {cols}].");
    }
}
