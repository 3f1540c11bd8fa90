// Q6_K (ggml block_q6_K, 210 bytes per super-block of 256 values = 16 sub-blocks of 16):
//   bytes 0–127    ql      low 4 bits of the codes
//   bytes 128–191  qh      high 2 bits of the codes
//   bytes 192–207  scales  int8 scale of each sub-block of 16
//   bytes 208–209  d       f16 super-scale
//   Value v = 128h + 32t + l (half h, quarter t, l < 32):
//     low  = ql[64h + l + 32·(t & 1)], its low nibble for t < 2, its high nibble for t ≥ 2
//     high = (qh[32h + l] >> 2t) & 3
//     ŵ = (d·scales[8h + (32t + l)/16])·((low | high << 4) − 32)
// Quantize (quantize_row_q6_K_ref): per sub-block a symmetric scale search (make_qx_quants,
// weights x²), the 16 scales quantized to int8 against the largest (d = max/−128), codes
// re-derived from the stored scales.
namespace PureLlama.Kernels.Blocks;

/// <summary>ggml's Q6_K block format.</summary>
public readonly unsafe struct Q6KBlock : IBlockFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q6_K;
    /// <inheritdoc/>
    public static int BlockValues => 256;
    /// <inheritdoc/>
    public static int BlockBytes => 210;

    /// <inheritdoc/>
    public static void Dequantize(byte* block, float* values)
    {
        float d = BlockMath.LoadF16(block + 208);
        for (int h = 0; h < 2; h++)
        {
            byte* ql = block + 64 * h, qh = block + 128 + 32 * h;
            sbyte* sc = (sbyte*)(block + 192 + 8 * h);
            float* y = values + 128 * h;
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[s] * q1;
                y[l + 32] = d * sc[s + 2] * q2;
                y[l + 64] = d * sc[s + 4] * q3;
                y[l + 96] = d * sc[s + 6] * q4;
            }
        }
    }

    /// <inheritdoc/>
    public static void Quantize(float* values, byte* block)
    {
        var codes = stackalloc sbyte[256];
        var scales = stackalloc float[16];
        float maxScale = 0f, maxAbsScale = 0f;
        for (int b = 0; b < 16; b++)
        {
            float scale = KQuantSearch.Symmetric(16, 32, values + 16 * b, codes + 16 * b);
            scales[b] = scale;
            if (MathF.Abs(scale) > maxAbsScale) { maxAbsScale = MathF.Abs(scale); maxScale = scale; }
        }
        for (int i = 0; i < 210; i++) block[i] = 0;
        if (maxAbsScale < 1e-15f) return;   // all zero: d = 0 (ggml's memset + f16 zero)
        float iscale = -128f / maxScale;
        BlockMath.StoreF16(block + 208, 1 / iscale);
        sbyte* sc = (sbyte*)(block + 192);
        for (int b = 0; b < 16; b++) sc[b] = (sbyte)Math.Min(127, BlockMath.NearestInt(iscale * scales[b]));
        float d = BlockMath.LoadF16(block + 208);
        for (int b = 0; b < 16; b++)
        {
            float db = d * sc[b];
            if (db == 0f) continue;
            for (int i = 0; i < 16; i++)
                codes[16 * b + i] = (sbyte)(Math.Max(-32, Math.Min(31, BlockMath.NearestInt(values[16 * b + i] / db))) + 32);
        }
        for (int h = 0; h < 2; h++)
        {
            byte* ql = block + 64 * h, qh = block + 128 + 32 * h;
            sbyte* L = codes + 128 * h;
            for (int l = 0; l < 32; l++)
            {
                int q1 = L[l] & 0xF, q2 = L[l + 32] & 0xF, q3 = L[l + 64] & 0xF, q4 = L[l + 96] & 0xF;
                ql[l] = (byte)(q1 | (q3 << 4));
                ql[l + 32] = (byte)(q2 | (q4 << 4));
                qh[l] = (byte)((L[l] >> 4) | ((L[l + 32] >> 4) << 2) | ((L[l + 64] >> 4) << 4) | ((L[l + 96] >> 4) << 6));
            }
        }
    }
}
