// A ggml block format as one declaration: how many values a block holds, how many bytes it takes,
// how one block dequantizes and quantizes, and (IGpuBlockFormat) how device code reads one value. Every block kernel (GEMV, GEMM panels, dequantize,
// quantize, the ILGPU operand) is generic over it; adding a format is one struct plus its float64
// reference and GPU element decoder (docs/kernels/gguf-blocks.md).
namespace PureLlama.Kernels.Blocks;

/// <summary>A block format: a row of n values (n a multiple of <see cref="BlockValues"/>) is n / BlockValues blocks of <see cref="BlockBytes"/> bytes.</summary>
internal unsafe interface IBlockFormat : IGpuBlockFormat
{
    /// <summary>The ggml type id.</summary>
    static abstract GgmlType Type { get; }

    /// <summary>Values per block (32, or 256 for the K-quants).</summary>
    static abstract int BlockValues { get; }

    /// <summary>Bytes per block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>values[0..BlockValues) = the block's dequantized values, bit-identical to ggml's <c>dequantize_row_*</c>.</summary>
    static abstract void Dequantize(byte* block, float* values);

    /// <summary>
    /// acc (8 lanes, summed later) += Σ_i ŵ[i]·xd[i/32]·xq[i] over the block: its integer dot with activation
    /// codes xq (Q8 blocks of 32 with scales xd and code sums xs, pointers at this block's first value / block).
    /// Called only where <c>BlockQ8Dot.Supported</c> (AVX2).
    /// </summary>
    static abstract void DotQ8(byte* block, sbyte* xq, float* xd, int* xs, ref System.Runtime.Intrinsics.Vector256<float> acc);

    /// <summary>block = values quantized with llama.cpp's reference quantizer math (<c>quantize_row_*_ref</c>, no importance matrix).</summary>
    static abstract void Quantize(float* values, byte* block);
}
