// Q4_K (ggml block_q4_K, 144 bytes per super-block of 256 values = 8 sub-blocks of 32):
//   bytes 0–1     d       f16 super-scale of the sub-block scales
//   bytes 2–3     dmin    f16 super-scale of the sub-block mins
//   bytes 4–15    scales  8 × (6-bit scale sc_j, 6-bit min m_j), packed (ggml's get_scale_min_k4):
//                 j < 4:  sc_j = s[j] & 63,                     m_j = s[j+4] & 63
//                 j ≥ 4:  sc_j = (s[j+4] & 15) | (s[j−4] >> 6) << 4, m_j = (s[j+4] >> 4) | (s[j] >> 6) << 4
//   bytes 16–143  qs      4-bit codes: value 64c + l (l < 32) is the low nibble of qs[32c + l],
//                         value 64c + 32 + l its high nibble (sub-blocks 2c and 2c + 1)
//   ŵ = (d·sc_j)·q − (dmin·m_j)
// Quantize (quantize_row_q4_K_ref, no importance matrix): per sub-block an asymmetric scale/min
// search (ggml's make_qkx2_quants: weights av + |x|, 21 trial scales), the 8 scales and 8 mins
// quantized to 6 bits against their maxima, then every code re-derived from the stored scales.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ILGPU;

namespace PureLlama.Kernels.Blocks;

/// <summary>ggml's Q4_K block format.</summary>
internal readonly unsafe struct Q4KBlock : IBlockFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_K;
    /// <inheritdoc/>
    public static int BlockValues => 256;
    /// <inheritdoc/>
    public static int BlockBytes => 144;

    /// <summary>The 6-bit scale and min of sub-block j from the 12 packed bytes.</summary>
    internal static void ScaleMin(int j, byte* s, out int scale, out int min)
    {
        if (j < 4) { scale = s[j] & 63; min = s[j + 4] & 63; }
        else { scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4); min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4); }
    }

    /// <inheritdoc/>
    public static void Dequantize(byte* block, float* values)
    {
        float d = BlockMath.LoadF16(block), dmin = BlockMath.LoadF16(block + 2);
        byte* scales = block + 4, qs = block + 16;
        for (int c = 0; c < 4; c++)
        {
            ScaleMin(2 * c, scales, out int sc0, out int m0);
            ScaleMin(2 * c + 1, scales, out int sc1, out int m1);
            float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
            byte* q = qs + 32 * c;
            float* y = values + 64 * c;
            for (int l = 0; l < 32; l++)
            {
                y[l] = d0 * (q[l] & 0xF) - mm0;
                y[l + 32] = d1 * (q[l] >> 4) - mm1;
            }
        }
    }

    /// <inheritdoc/>
    public float Element(ArrayView<byte> data, int start, int i)
    {
        int j = i >> 5, s = start + 4;
        int scale = j < 4 ? data[s + j] & 63 : (data[s + j + 4] & 0xF) | ((data[s + j - 4] >> 6) << 4);
        int min = j < 4 ? data[s + j + 4] & 63 : (data[s + j + 4] >> 4) | ((data[s + j] >> 6) << 4);
        int packed = data[start + 16 + 32 * (i >> 6) + (i & 31)];
        int q = (i & 32) != 0 ? packed >> 4 : packed & 0xF;
        return BlockMath.F16(data, start) * scale * q - BlockMath.F16(data, start + 2) * min;
    }

    /// <inheritdoc/>
    public static void DotQ8(byte* block, sbyte* xq, float* xd, int* xs, ref Vector256<float> acc)
    {
        float d = BlockMath.LoadF16Fast(block), dmin = BlockMath.LoadF16Fast(block + 2), mins = 0f;
        byte* scales = block + 4;
        for (int c = 0; c < 4; c++)
        {
            var q = Vector256.Load(block + 16 + 32 * c);
            int j = 2 * c;
            ScaleMin(j, scales, out int sc0, out int m0);
            ScaleMin(j + 1, scales, out int sc1, out int m1);
            acc = BlockQ8Dot.Add(acc, BlockQ8Dot.Dot(BlockQ8Dot.Low(q), Vector256.Load(xq + 64 * c)), d * sc0 * xd[j]);
            acc = BlockQ8Dot.Add(acc, BlockQ8Dot.Dot(BlockQ8Dot.High(q), Vector256.Load(xq + 64 * c + 32)), d * sc1 * xd[j + 1]);
            mins += m0 * xd[j] * xs[j] + m1 * xd[j + 1] * xs[j + 1];
        }
        acc -= Vector256.CreateScalar(dmin * mins);
    }

    /// <inheritdoc/>
    public static void Quantize(float* values, byte* block)
    {
        var codes = stackalloc byte[256];
        var weights = stackalloc float[256];
        var scales = stackalloc float[8];
        var mins = stackalloc float[8];
        for (int j = 0; j < 8; j++)
        {
            float* x = values + 32 * j;
            float sumX2 = 0f;
            for (int l = 0; l < 32; l++) sumX2 += x[l] * x[l];
            float av = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[32 * j + l] = av + MathF.Abs(x[l]);
        }
        KQuantSearch.ScaleMin(8, 32, 15, values, weights, codes, scales, mins, -1f, 0.1f, 20);
        float maxScale = 0f, maxMin = 0f;
        for (int j = 0; j < 8; j++)
        {
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte* packed = block + 4;
        for (int i = 0; i < 12; i++) packed[i] = 0;
        for (int j = 0; j < 8; j++)
        {
            int ls = Math.Min(63, (int)(byte)BlockMath.NearestInt(invScale * scales[j]));
            int lm = Math.Min(63, (int)(byte)BlockMath.NearestInt(invMin * mins[j]));
            if (j < 4) { packed[j] = (byte)ls; packed[j + 4] = (byte)lm; }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
        BlockMath.StoreF16(block, maxScale / 63f);
        BlockMath.StoreF16(block + 2, maxMin / 63f);
        float d = BlockMath.LoadF16(block), dmin = BlockMath.LoadF16(block + 2);
        for (int j = 0; j < 8; j++)
        {
            ScaleMin(j, packed, out int sc, out int m);
            float dj = d * sc;
            if (dj == 0f) continue;
            float dm = dmin * m;
            for (int l = 0; l < 32; l++)
                codes[32 * j + l] = (byte)Math.Clamp(BlockMath.NearestInt((values[32 * j + l] + dm) / dj), 0, 15);
        }
        byte* qs = block + 16;
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                qs[32 * c + l] = (byte)(codes[64 * c + l] | (codes[64 * c + 32 + l] << 4));
    }
}
