// Q4_0 (ggml block_q4_0, 18 bytes per 32 values):
//   bytes 0–1   d   f16 scale
//   bytes 2–17  qs  qs[j] low nibble = code of value j, high nibble = code of value j + 16
//   ŵ[j] = (code − 8)·d
// Quantize (quantize_row_q4_0_ref): m = the value of largest |x|, d = m / −8,
// code = min(15, trunc(x/d + 8.5)) — so the extreme value maps to code 0 exactly.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ILGPU;

namespace PureLlama.Kernels.Blocks;

/// <summary>ggml's Q4_0 block format.</summary>
internal readonly unsafe struct Q4_0Block : IBlockFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_0;
    /// <inheritdoc/>
    public static int BlockValues => 32;
    /// <inheritdoc/>
    public static int BlockBytes => 18;

    /// <inheritdoc/>
    public static void Dequantize(byte* block, float* values)
    {
        float d = BlockMath.LoadF16(block);
        byte* qs = block + 2;
        for (int j = 0; j < 16; j++)
        {
            values[j] = ((qs[j] & 0x0F) - 8) * d;
            values[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    /// <inheritdoc/>
    public float Element(ArrayView<byte> data, int start, int i)
    {
        int packed = data[start + 2 + (i & 15)];
        return ((i < 16 ? packed & 0xF : packed >> 4) - 8) * BlockMath.F16(data, start);
    }

    /// <inheritdoc/>
    public static void DotQ8(byte* block, sbyte* xq, float* xd, int* xs, ref Vector256<float> acc)
    {
        var packed = Vector128.Load(block + 2);
        var codes = Vector256.Create(packed, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & Vector256.Create((byte)15);
        // Σ (u − 8)·x = Σ u·x − 8·Σx: the offset goes into lane 0.
        var ints = BlockQ8Dot.Dot(codes, Vector256.Load(xq)) - Vector256.CreateScalar(8 * xs[0]);
        acc = BlockQ8Dot.Add(acc, ints, BlockMath.LoadF16Fast(block) * xd[0]);
    }

    /// <inheritdoc/>
    public static void Quantize(float* values, byte* block)
    {
        float amax = 0f, max = 0f;
        for (int j = 0; j < 32; j++)
        {
            float v = values[j];
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        }
        float d = max / -8f;
        float id = d != 0f ? 1f / d : 0f;
        BlockMath.StoreF16(block, d);
        byte* qs = block + 2;
        for (int j = 0; j < 16; j++)
        {
            int lo = Math.Min(15, (int)(values[j] * id + 8.5f));
            int hi = Math.Min(15, (int)(values[j + 16] * id + 8.5f));
            qs[j] = (byte)(lo | (hi << 4));
        }
    }
}
