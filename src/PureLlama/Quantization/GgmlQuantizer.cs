using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Numerics;
using PureLlama.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// F32 rows → the bytes GGUF stores for a ggml type, and back: F32, F16 (round to nearest even,
/// subnormals kept, as numpy's astype), BF16 (round to nearest even, NaN kept quiet, as gguf-py) and the
/// block formats Q8_0, Q4_0, Q4_K, Q6_K with llama.cpp's reference quantizer math (no importance matrix).
/// </summary>
public static unsafe class GgmlQuantizer
{
    /// <summary>Quantizes an F32/BF16/F16 weight [out, in] (any device) to a block format on <paramref name="device"/> (default: the weight's device).</summary>
    public static GgmlBlockTensor Quantize(Tensor weight, GgmlType type, Device? device = null)
    {
        QuantizerInput.Check(weight, type.ToString());
        if (!BlockFormats.IsBlockFormat(type))
            throw new ArgumentException($"{type} is not a block format (Q8_0, Q4_0, Q4_K, Q6_K).", nameof(type));
        int rows = weight.Shape[0], cols = weight.Shape[1];
        long rowBytes = BlockFormats.RowBytes(type, cols);
        var bytes = new byte[rows * rowBytes];
        QuantizerRows.ForChunks(weight, (r0, n, p) =>
        {
            foreach (float v in new ReadOnlySpan<float>((float*)p, n * cols))
                if (!float.IsFinite(v)) throw new ArgumentException($"Cannot quantize {weight.Describe()} to {type}: it holds a non-finite value.", nameof(weight));
            fixed (byte* dst = bytes)
                BlockFormats.Visit(type, new RowQuantizer((float*)p, n, cols, dst + r0 * rowBytes));
        });
        var blocks = Tensor.FromArray(bytes, new Shape(bytes.Length), device ?? weight.Device);
        try { return new GgmlBlockTensor(type, new Shape(rows, cols), blocks) { Name = weight.Name }; }
        catch { blocks.Dispose(); throw; }
    }

    /// <summary>The bytes of <paramref name="values"/> (rows of <paramref name="rowLength"/>) stored as <paramref name="type"/>.</summary>
    public static byte[] QuantizeRows(GgmlType type, ReadOnlySpan<float> values, int rowLength)
    {
        if (rowLength <= 0 || values.Length % rowLength != 0)
            throw new ArgumentException($"{values.Length} values are not whole rows of {rowLength}.", nameof(rowLength));
        int rows = values.Length / rowLength;
        switch (type)
        {
            case GgmlType.F32:
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();
            case GgmlType.F16:
            case GgmlType.BF16:
            {
                var bytes = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++)
                {
                    ushort h = type == GgmlType.F16 ? BitConverter.HalfToUInt16Bits((Half)values[i]) : Bf16.FromFloat(values[i]);
                    bytes[2 * i] = (byte)h;
                    bytes[2 * i + 1] = (byte)(h >> 8);
                }
                return bytes;
            }
        }
        var output = new byte[rows * BlockFormats.RowBytes(type, rowLength)];
        fixed (float* src = values)
        fixed (byte* dst = output)
            BlockFormats.Visit(type, new RowQuantizer(src, rows, rowLength, dst));
        return output;
    }

    /// <summary>The F32 values of <paramref name="bytes"/> stored as <paramref name="type"/> (rows of <paramref name="rowLength"/>), bit-identical to ggml's to_float.</summary>
    public static float[] DequantizeRows(GgmlType type, ReadOnlySpan<byte> bytes, int rowLength)
    {
        if (rowLength <= 0) throw new ArgumentOutOfRangeException(nameof(rowLength), rowLength, "Row length must be positive.");
        long rowBytes = type switch
        {
            GgmlType.F32 => 4L * rowLength,
            GgmlType.F16 or GgmlType.BF16 => 2L * rowLength,
            _ => BlockFormats.RowBytes(type, rowLength),
        };
        if (bytes.Length % rowBytes != 0)
            throw new ArgumentException($"{bytes.Length} bytes are not whole rows of {rowLength} {type} values ({rowBytes} bytes each).", nameof(bytes));
        int rows = (int)(bytes.Length / rowBytes);
        var values = new float[(long)rows * rowLength];
        switch (type)
        {
            case GgmlType.F32:
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
                return values;
            case GgmlType.F16:
            case GgmlType.BF16:
                for (int i = 0; i < values.Length; i++)
                {
                    ushort h = (ushort)(bytes[2 * i] | (bytes[2 * i + 1] << 8));
                    values[i] = type == GgmlType.F16 ? (float)BitConverter.UInt16BitsToHalf(h) : BitConverter.Int32BitsToSingle(h << 16);
                }
                return values;
        }
        fixed (byte* src = bytes)
        fixed (float* dst = values)
            BlockFormats.Visit(type, new RowDequantizer(src, rows, rowLength, dst));
        return values;
    }

    private readonly struct RowQuantizer(float* src, int rows, int cols, byte* dst) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat { BlockKernels<T>.QuantizeRows(src, rows, cols, dst); return true; }
    }

    private readonly struct RowDequantizer(byte* src, int rows, int cols, float* dst) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat { BlockKernels<T>.Dequantize(BlockKernels<T>.View(rows, cols, src), dst); return true; }
    }
}
