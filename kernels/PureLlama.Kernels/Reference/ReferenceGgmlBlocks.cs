// Float64 dequantization of the ggml block formats, written element by element from the published
// block structs (ggml-common.h), independent of the block loops in Blocks/:
//
//   Q8_0  [d f16][qs i8 ×32]                          ŵ_i = d·qs[i]
//   Q4_0  [d f16][qs u8 ×16]                          ŵ_i = d·(nib_i − 8), nib_i = i < 16 ? qs[i] & 15 : qs[i−16] >> 4
//   Q4_K  [d f16][dmin f16][scales u8 ×12][qs u8 ×128]  sub-block j = i/32, ŵ_i = d·sc_j·q_i − dmin·m_j
//         q_i = nibble (i % 64 ≥ 32 ? high : low) of qs[32·(i/64) + i % 32]
//   Q6_K  [ql u8 ×128][qh u8 ×64][scales i8 ×16][d f16]   ŵ_i = d·scales[i/16]·(q_i − 32)
//         h = i/128, t = (i%128)/32, l = i%32: q_i = nibble_{t≥2}(ql[64h + l + 32(t&1)]) | ((qh[32h + l] >> 2t) & 3) << 4
namespace PureLlama.Kernels.Reference;

/// <summary>Float64 references of the ggml block formats.</summary>
internal static class ReferenceGgmlBlocks
{
    /// <summary>Ŵ [rows, cols] from the blocks of <paramref name="type"/> (a ggml type id: 8, 2, 12, 14).</summary>
    public static double[] Dequantize(int type, ReadOnlySpan<byte> data, int rows, int cols)
    {
        var (bv, bb) = type switch { 8 => (32, 34), 2 => (32, 18), 12 => (256, 144), 14 => (256, 210), _ => throw new NotSupportedException($"ggml type {type}.") };
        if (cols % bv != 0) throw new ArgumentException($"cols {cols} is not a multiple of {bv}.");
        long rowBytes = (long)cols / bv * bb;
        if (data.Length != rows * rowBytes) throw new ArgumentException($"expected {rows * rowBytes} bytes, got {data.Length}.");
        var w = new double[(long)rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                var block = data.Slice((int)(r * rowBytes + (long)(c / bv) * bb), bb);
                int i = c % bv;
                w[(long)r * cols + c] = type switch
                {
                    8 => F16(block, 0) * (sbyte)block[2 + i],
                    2 => F16(block, 0) * ((i < 16 ? block[2 + i] & 15 : block[2 + i - 16] >> 4) - 8),
                    12 => Q4K(block, i),
                    _ => Q6K(block, i),
                };
            }
        return w;
    }

    private static double Q4K(ReadOnlySpan<byte> b, int i)
    {
        int j = i / 32;
        var s = b.Slice(4, 12);
        int sc = j < 4 ? s[j] & 63 : (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        int m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        int qByte = b[16 + 32 * (i / 64) + i % 32];
        int q = i % 64 >= 32 ? qByte >> 4 : qByte & 15;
        return F16(b, 0) * sc * q - F16(b, 2) * m;
    }

    private static double Q6K(ReadOnlySpan<byte> b, int i)
    {
        int h = i / 128, t = i % 128 / 32, l = i % 32;
        int low = b[64 * h + l + 32 * (t & 1)];
        low = t >= 2 ? low >> 4 : low & 15;
        int high = (b[128 + 32 * h + l] >> (2 * t)) & 3;
        return F16(b, 208) * (sbyte)b[192 + i / 16] * ((low | (high << 4)) - 32);
    }

    private static double F16(ReadOnlySpan<byte> b, int at) => ReferenceConvert.F16ToDouble((ushort)(b[at] | (b[at + 1] << 8)));
}
