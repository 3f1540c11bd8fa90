namespace PureLlama.Kernels.Blocks;

/// <summary>
/// ggml's tensor type ids as GGUF stores them in a tensor info (the <c>ggml_type</c> enum, a
/// little-endian u32). Listed: the ids whose layout is known; PureLlama computes with F32, F16, BF16
/// and the block formats of <see cref="BlockFormats.All"/>.
/// </summary>
public enum GgmlType : uint
{
    /// <summary>IEEE float32.</summary>
    F32 = 0,
    /// <summary>IEEE float16.</summary>
    F16 = 1,
    /// <summary>Blocks of 32: f16 scale d, 16 bytes of 4-bit codes; ŵ = d·(q − 8).</summary>
    Q4_0 = 2,
    /// <summary>Blocks of 32 with scale and min (not implemented).</summary>
    Q4_1 = 3,
    /// <summary>Blocks of 32, 5-bit codes (not implemented).</summary>
    Q5_0 = 6,
    /// <summary>Blocks of 32, 5-bit codes with min (not implemented).</summary>
    Q5_1 = 7,
    /// <summary>Blocks of 32: f16 scale d, 32 int8 codes; ŵ = d·q.</summary>
    Q8_0 = 8,
    /// <summary>Blocks of 32, int8 codes with sum (activations; not implemented).</summary>
    Q8_1 = 9,
    /// <summary>K-quant, 2-bit (not implemented).</summary>
    Q2_K = 10,
    /// <summary>K-quant, 3-bit (not implemented).</summary>
    Q3_K = 11,
    /// <summary>Super-blocks of 256: f16 d, dmin, 8 × 6-bit (scale, min), 4-bit codes; ŵ = d·sc·q − dmin·m.</summary>
    Q4_K = 12,
    /// <summary>K-quant, 5-bit (not implemented).</summary>
    Q5_K = 13,
    /// <summary>Super-blocks of 256: 6-bit codes (4 low + 2 high bits), 16 int8 scales, f16 d; ŵ = d·sc·(q − 32).</summary>
    Q6_K = 14,
    /// <summary>K-quant activations, 8-bit (not implemented).</summary>
    Q8_K = 15,
    /// <summary>int8.</summary>
    I8 = 24,
    /// <summary>int16.</summary>
    I16 = 25,
    /// <summary>int32.</summary>
    I32 = 26,
    /// <summary>int64.</summary>
    I64 = 27,
    /// <summary>float64.</summary>
    F64 = 28,
    /// <summary>bfloat16.</summary>
    BF16 = 30,
}
