// Q8_0 (ggml block_q8_0, 34 bytes per 32 values):
//   bytes 0–1  d   f16 scale
//   bytes 2–33 qs  int8 codes
//   ŵ[j] = qs[j]·d
// Quantize (quantize_row_q8_0_ref): d = amax/127, qs[j] = roundf(x[j]/d) (half away from zero).
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ILGPU;

namespace PureLlama.Kernels.Blocks;

/// <summary>ggml's Q8_0 block format.</summary>
internal readonly unsafe struct Q8_0Block : IBlockFormat
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
    public float Element(ArrayView<byte> data, int start, int i) => BlockMath.F16(data, start) * (sbyte)data[start + 2 + i];

    /// <inheritdoc/>
    public static void DotQ8(byte* block, sbyte* xq, float* xd, int* xs, ref Vector256<float> acc)
    {
        var w = Vector256.Load((sbyte*)(block + 2));
        var x = Vector256.Load(xq);
        // Σ w·x = Σ |w|·(x·sign w): |w| ≤ 128 unsigned, pair sums ≤ 2·128·127 < 2^15.
        acc = BlockQ8Dot.Add(acc, BlockQ8Dot.Dot(Avx2.Abs(w), Avx2.Sign(x, w)), BlockMath.LoadF16Fast(block) * xd[0]);
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
