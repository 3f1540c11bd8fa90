namespace PureLlama.Kernels.Blocks;

/// <summary>
/// ggml's tensor type ids as GGUF stores them in a tensor info (the <c>ggml_type</c> enum). Only the
/// types PureLlama reads and writes are named; other ids are rejected by name and number.
/// </summary>
public enum GgmlType
{
    /// <summary>IEEE float32.</summary>
    F32 = 0,
    /// <summary>IEEE float16.</summary>
    F16 = 1,
    /// <summary>Blocks of 32: f16 scale d, 16 bytes of 4-bit codes; ŵ = d·(q − 8).</summary>
    Q4_0 = 2,
    /// <summary>Blocks of 32: f16 scale d, 32 int8 codes; ŵ = d·q.</summary>
    Q8_0 = 8,
    /// <summary>Super-blocks of 256: f16 d, dmin, 8 × 6-bit (scale, min), 4-bit codes; ŵ = d·sc·q − dmin·m.</summary>
    Q4_K = 12,
    /// <summary>Super-blocks of 256: 6-bit codes (4 low + 2 high bits), 16 int8 scales, f16 d; ŵ = d·sc·(q − 32).</summary>
    Q6_K = 14,
    /// <summary>bfloat16.</summary>
    BF16 = 30,
}
