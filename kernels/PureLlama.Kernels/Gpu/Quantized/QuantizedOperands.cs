using System.Runtime.CompilerServices;
using ILGPU;

namespace PureLlama.Kernels.Gpu;

/*
 * Device-side readers of the two packed weight formats, shared by the GEMV, GEMM (as the B
 * operand of GpuTiledMatmul.Run) and dequantize kernels. The weight is Ŵ [out, in].
 *
 * NF4 (bitsandbytes layout). Element e = r·in + c of the flattened matrix:
 *   byte  = packed[e >> 1]                      code = e even ? byte >> 4 : byte & 15
 *   block = e >> log2(blockSize)                (blocks of 64 cross row ends when in % 64 ≠ 0)
 *   absmax(block) = absmaxF32[block]                                              plain
 *                 = nestedMap[codes[block]] · nestedAbsmax[block >> log2(256)] + nestedOffset  double-quantized
 *   ŵ[e] = quantMap[code] · absmax(block)
 * Eight consecutive elements starting at a multiple of 8 are one 32-bit word of packed (bytes
 * 4w..4w+3, little-endian: byte t in bits 8t..8t+7) and, the block size being a power of two ≥ 8,
 * lie in one block: the GEMV decodes them with one absmax.
 *
 * INT8 (LLM.int8 storage): ŵ[r, c] = q[r, c] · SCB[r] / 127, q ∈ [−127, 127].
 */

/// <summary>
/// An NF4 weight as kernel data: the component views and the layout. Unused views (the nested
/// ones of a plain weight) point at any valid buffer and are never read.
/// </summary>
internal struct Nf4Operand : IGemmOperandB
{
    public ArrayView<byte> Packed;         // U8 [⌈n/2⌉]
    public ArrayView<float> QuantMap;      // F32 [16]
    public ArrayView<float> Absmax;        // F32 [blocks] (plain)
    public ArrayView<byte> AbsmaxCodes;    // U8 [blocks] (double-quantized)
    public ArrayView<float> NestedAbsmax;  // F32 [⌈blocks/256⌉]
    public ArrayView<float> NestedMap;     // F32 [256]
    public float NestedOffset;
    public int In;
    public int BlockShift;                 // log2(block size), ≥ 3
    public int NestedShift;                // log2(nested block size)
    public int DoubleQuant;                // 1: absmax from codes
    public int Vectorized;                 // 1: packed starts 4-byte aligned (32-bit word loads)

    /// <summary>absmax of block b (decoded from its 8-bit code when double-quantized).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float BlockAbsmax(int b) => DoubleQuant != 0
        ? NestedMap[(int)AbsmaxCodes[b]] * NestedAbsmax[b >> NestedShift] + NestedOffset
        : Absmax[b];

    /// <summary>ŵ at flat element e (one byte load, the code's half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Element(int e)
    {
        int packedByte = Packed[e >> 1];
        int code = (e & 1) == 0 ? packedByte >> 4 : packedByte & 15;
        return QuantMap[code] * BlockAbsmax(e >> BlockShift);
    }

    /// <summary>
    /// Packed bytes 4w..4w+3 as one little-endian word (elements 8w..8w+7): a 32-bit load when
    /// aligned and whole, else byte loads with the bytes past the end read as 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly uint Word(int w)
    {
        var words = Packed.Cast<uint>();
        if (Vectorized != 0 && w < words.Length) return words[w];
        int b = w * 4;
        int length = (int)Packed.Length;
        uint word = 0;
        if (b < length) word = Packed[b];
        if (b + 1 < length) word |= (uint)Packed[b + 1] << 8;
        if (b + 2 < length) word |= (uint)Packed[b + 2] << 16;
        if (b + 3 < length) word |= (uint)Packed[b + 3] << 24;
        return word;
    }

    /// <summary>GEMM operand: forward (p.TransB = 1) reads Ŵ[n, k]; transposed (p.TransB = 0) reads Ŵ[k, n].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Load(GemmShape p, int k, int n) => Element(p.TransB != 0 ? n * In + k : k * In + n);
}

/// <summary>An INT8 weight as kernel data: q [out, in] and the row absmaxes.</summary>
internal struct Int8Operand : IGemmOperandB
{
    public ArrayView<sbyte> Values;  // I8 [out, in]
    public ArrayView<float> Scale;   // F32 [out]: SCB, absmax of each row
    public int In;
    public int Vectorized;           // 1: rows start 4-byte aligned (in % 4 = 0, aligned view)

    /// <summary>ŵ[r, c] = q·SCB[r]/127.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Element(int r, int c) => Values[r * In + c] * (Scale[r] * (1f / 127f));

    /// <summary>GEMM operand: forward (p.TransB = 1) reads Ŵ[n, k]; transposed (p.TransB = 0) reads Ŵ[k, n].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Load(GemmShape p, int k, int n) => p.TransB != 0 ? Element(n, k) : Element(k, n);
}

/// <summary>Shape of a quantized GEMV launch: y[M, out] (=|+=) x[M, in]·Ŵᵀ with M ≤ 4.</summary>
internal struct QuantGemvShape
{
    public int M, Out, In;
    /// <summary>1: y += product; 0: y = product.</summary>
    public int Accumulate;
}
