// Q8_0 (ggml block_q8_0, 34 bytes per 32 values):
//   bytes 0–1  d   f16 scale
//   bytes 2–33 qs  int8 codes
//   ŵ[j] = qs[j]·d
// Quantize (quantize_row_q8_0_ref): d = amax/127, qs[j] = roundf(x[j]/d) (half away from zero).
namespace PureLlama.Kernels.Blocks;

/// <summary>ggml's Q8_0 block format.</summary>
public readonly unsafe struct Q8_0Block : IBlockFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q8_0;
    /// <inheritdoc/>
    public static int BlockValues => 32;
    /// <inheritdoc/>
    public static int BlockBytes => 34;

    /// <inheritdoc/>
    public static void Dequantize(byte* block, float* values)
    {
        float d = BlockMath.LoadF16(block);
        sbyte* qs = (sbyte*)(block + 2);
        for (int j = 0; j < 32; j++) values[j] = qs[j] * d;
    }

    /// <inheritdoc/>
    public static void Quantize(float* values, byte* block)
    {
        float amax = 0f;
        for (int j = 0; j < 32; j++) amax = Math.Max(amax, MathF.Abs(values[j]));
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        BlockMath.StoreF16(block, d);
        sbyte* qs = (sbyte*)(block + 2);
        for (int j = 0; j < 32; j++) qs[j] = (sbyte)MathF.Round(values[j] * id, MidpointRounding.AwayFromZero);
    }
}
