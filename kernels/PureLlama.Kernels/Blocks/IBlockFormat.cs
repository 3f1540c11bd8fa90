// A ggml block format as one declaration: how many values a block holds, how many bytes it takes,
// and how one block dequantizes and quantizes. Every block kernel (GEMV, GEMM panels, dequantize,
// quantize, the ILGPU operand) is generic over it; adding a format is one struct plus its float64
// reference and GPU element decoder (docs/kernels/gguf-blocks.md).
namespace PureLlama.Kernels.Blocks;

/// <summary>A block format: a row of n values (n a multiple of <see cref="BlockValues"/>) is n / BlockValues blocks of <see cref="BlockBytes"/> bytes.</summary>
public unsafe interface IBlockFormat
{
    /// <summary>The ggml type id.</summary>
    static abstract GgmlType Type { get; }

    /// <summary>Values per block (32, or 256 for the K-quants).</summary>
    static abstract int BlockValues { get; }

    /// <summary>Bytes per block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>values[0..BlockValues) = the block's dequantized values, bit-identical to ggml's <c>dequantize_row_*</c>.</summary>
    static abstract void Dequantize(byte* block, float* values);

    /// <summary>block = values quantized with llama.cpp's reference quantizer math (<c>quantize_row_*_ref</c>, no importance matrix).</summary>
    static abstract void Quantize(float* values, byte* block);
}
