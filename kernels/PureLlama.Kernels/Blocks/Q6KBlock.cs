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
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ILGPU;

namespace PureLlama.Kernels.Blocks;

/// <summary>ggml's Q6_K block format.</summary>
internal readonly unsafe struct Q6KBlock : IBlockFormat
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
    public float Element(ArrayView<byte> data, int start, int i)
    {
        int h = i >> 7, t = (i >> 5) & 3, l = i & 31;
        int low = data[start + 64 * h + l + 32 * (t & 1)];
        low = t >= 2 ? low >> 4 : low & 0xF;
        int high = (data[start + 128 + 32 * h + l] >> (2 * t)) & 3;
        return BlockMath.F16(data, start + 208) * (sbyte)data[start + 192 + (i >> 4)] * ((low | (high << 4)) - 32);
    }

    /// <inheritdoc/>
    public static void DotQ8(byte* block, sbyte* xq, float* xd, int* xs, ref Vector256<float> acc)
    {
        float d = BlockMath.LoadF16Fast(block + 208);
        sbyte* sc = (sbyte*)(block + 192);
        var thirtyTwo = Vector256.Create((byte)32);
        for (int b = 0; b < 8; b++)
        {
            // Activation block b = values 32b…32b+31: half h = b/4, quarter t = b%4 (see the layout above).
            int h = b >> 2, t = b & 3;
            var low = Vector256.Load(block + 64 * h + 32 * (t & 1));
            low = t >= 2 ? BlockQ8Dot.High(low) : BlockQ8Dot.Low(low);
            var high = Vector256.ShiftRightLogical(Vector256.Load(block + 128 + 32 * h).AsUInt16(), 2 * t).AsByte() & Vector256.Create((byte)3);
            var q = low | Vector256.ShiftLeft(high.AsUInt16(), 4).AsByte();
            var x = Vector256.Load(xq + 32 * b);
            // Σ (q − 32)·x per 4-byte group; lanes 0–3 are sub-block 2b (scale sc[2b]), lanes 4–7 sub-block 2b + 1.
            var ints = BlockQ8Dot.Dot(q, x) - BlockQ8Dot.Dot(thirtyTwo, x);
            float dx = d * xd[b];
            var scale = Vector256.Create(Vector128.Create(dx * sc[2 * b]), Vector128.Create(dx * sc[2 * b + 1]));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ints), scale, acc);
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
