// Q8_0, Q4_0, Q4_K and Q6_K weights repacked at load for the int8 dot-product kernel BlockTiledMatmul: rows in tiles of
// 16, each weight row one 32-bit lane, so one 64-byte load feeds 16 output rows. The weight values stay exact, and the
// bytes per weight stay those of the GGUF file (Q8_0 1.0625, Q4_0 0.5625, Q4_K 0.5625, Q6_K 0.8203):
//
//   Q8_0  ŵ[c] = d·q[c]                        q ∈ [−128, 127]; stored as u = q + 128 (q xor 0x80), whose nibbles are
//                                              H = (q >> 4) + 8 and L = q & 15: q = 16·(H − 8) + L
//   Q4_0  ŵ[c] = d·(q[c] − 8)                  q ∈ [0, 15]; scale group ("super-block") = the block of 32
//   Q4_K  ŵ[c] = d·sc_j·q[c] − dmin·m_j        q ∈ [0, 15], sc_j, m_j ∈ [0, 63] (sub-block j = 32 columns of 256)
//   Q6_K  ŵ[c] = d·sc_h·(q[c] − 32)            q ∈ [0, 63], sc_h ∈ [−128, 127] (half h = 16 columns)
//
// Codes per tile and 32-column block (lane = weight row, byte 4·lane + i):
//   Q8_0: 8 steps × 64 bytes, step s = columns 4s + i
//   else step s = columns 8s…8s+7 of the block:
//   nibbles, 4 steps × 64 bytes: low nibble column 8s + i, high nibble column 8s + 4 + i (i < 4)
//   Q6_K then 2 × 64 bytes of q's top two bits: vector g holds steps 2g, 2g + 1; in byte 4·lane + i, bits 0–1 column
//   8(2g) + i, bits 2–3 column 8(2g) + 4 + i, bits 4–5 column 8(2g+1) + i, bits 6–7 column 8(2g+1) + 4 + i
// Q6_K's sub-scales as int8 [block, 2, 16 lanes] (sc of the block's two halves). Q4_K's sc_j, m_j (6 bits each) as the
// file packs them, 12 bytes per row and super-block: 192 bytes [3, 64] per tile and super-block. Byte i = 16·(j mod 4) +
// lane of vectors S0 (sc, j < 4), S1 (sc, j ≥ 4), M0 (m, j < 4), M1 (m, j ≥ 4); stored P0 = S0 | M1[0:1] << 6,
// P1 = S1 | M1[2:3] << 6, P2 = M0 | M1[4:5] << 6 (unpacked once per super-block with masks and shifts).
// Per super-block f16 [16 lanes] d (Q4_K: then 16 lanes of −dmin), widened in the kernel. Padding rows hold zeros.
using System.Runtime.InteropServices;
using PureLlama.Kernels.Simd;

namespace PureLlama.Kernels.Blocks;

/// <summary>A Q8_0, Q4_0, Q4_K or Q6_K weight [rows, cols] in 16-row tiles of codes with integer sub-block scales.</summary>
internal sealed unsafe class BlockTiles : IDisposable
{
    /// <summary>Weight rows per tile.</summary>
    public const int TileRows = 16;
    private const int Lanes = TileRows, NibbleBytes = 256;

    private void* _memory;

    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Tiles { get; }
    /// <summary>32-column blocks per row, blocks per super-block (1 for Q8_0/Q4_0, 8 for the K-quants), super-blocks per row.</summary>
    public int Blocks { get; }
    public int BlocksPerSuper { get; }
    public int SuperBlocks { get; }
    /// <summary>f16 vectors of 16 per super-block: 1 (d), or 2 for Q4_K (d, −dmin).</summary>
    public int ScalesPerSuper { get; }
    /// <summary>Code bytes of one 32-column block of a tile (512 for Q8_0, 384 for Q6_K, 256 for Q4_0/Q4_K).</summary>
    public int BlockBytes { get; }
    public long TileBytes { get; }
    public byte* Data { get; }
    /// <summary>Sub-scales (K-quants only): Q6_K I8 [tiles, blocks, 2, 16]; Q4_K packed [tiles, super-blocks, 192 bytes].</summary>
    public byte* Sub { get; }
    /// <summary>Sub-scale bytes of one tile (0, Q6_K 32 per block, Q4_K 192 per super-block).</summary>
    public long SubBytesPerTile { get; }
    /// <summary>Bytes of Q4_K's packed sc/m per tile and super-block.</summary>
    public const int Q4KSubBytes = 192;
    /// <summary>f16 bits [tiles, super-blocks, ScalesPerSuper, 16].</summary>
    public ushort* Super { get; }
    /// <summary>All bytes held.</summary>
    public long ByteLength { get; }

    private BlockTiles(GgmlType type, int rows, int cols)
    {
        Type = type; Rows = rows; Cols = cols;
        if (type is not (GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K)) throw new ArgumentException($"{type} has no tiled form.", nameof(type));
        BlocksPerSuper = type is GgmlType.Q4_0 or GgmlType.Q8_0 ? 1 : 8;
        if (cols % (32 * BlocksPerSuper) != 0) throw new ArgumentException($"{type} rows are whole blocks of {32 * BlocksPerSuper} values; {cols} is not.", nameof(cols));
        Tiles = (rows + Lanes - 1) / Lanes;
        Blocks = cols / 32; SuperBlocks = Blocks / BlocksPerSuper;
        ScalesPerSuper = type == GgmlType.Q4_K ? 2 : 1;
        BlockBytes = type switch { GgmlType.Q8_0 => 512, GgmlType.Q6_K => NibbleBytes + 128, _ => NibbleBytes };
        TileBytes = (long)BlockBytes * Blocks;
        SubBytesPerTile = type switch { GgmlType.Q6_K => 32L * Blocks, GgmlType.Q4_K => (long)Q4KSubBytes * SuperBlocks, _ => 0 };
        long data = TileBytes * Tiles, sub = SubBytesPerTile * Tiles, super = 32L * ScalesPerSuper * Tiles * SuperBlocks;
        ByteLength = data + sub + super;
        _memory = HugePages.AllocateZeroed((nuint)(ByteLength + 192));
        byte* p = (byte*)_memory;
        Data = p; p += (data + 63) & ~63L;
        Sub = p; p += (sub + 63) & ~63L;
        Super = (ushort*)p;
    }

    /// <summary>Code bytes of tile t.</summary>
    public byte* Tile(int t) => Data + t * TileBytes;

    /// <summary>Sub-scale k of (tile t, block b, lane): Q6_K sc of half k; Q4_K sc_j (k = 0) or m_j (k = 1).</summary>
    public int SubScale(int t, int b, int k, int lane)
    {
        if (Type == GgmlType.Q6_K) return (sbyte)Sub[((long)t * Blocks + b) * 2 * Lanes + k * Lanes + lane];
        byte* p = Sub + t * SubBytesPerTile + (long)(b >> 3) * Q4KSubBytes + 16 * (b & 3) + lane;
        int j = b & 7;
        if (k == 0) return p[j < 4 ? 0 : 64] & 63;
        if (j < 4) return p[128] & 63;
        return (p[0] >> 6) | (p[64] >> 6 << 2) | (p[128] >> 6 << 4);
    }

    /// <summary>d (16 lanes), then for Q4_K −dmin (16 lanes), of tile t, super-block s, as f16 bits.</summary>
    public ushort* SuperScales(int t, int s) => Super + ((long)t * SuperBlocks + s) * ScalesPerSuper * Lanes;

    /// <summary>Super-block scale k (0: d, 1: −dmin) of (tile t, super-block s, lane) as the kernels widen it.</summary>
    public float SuperScale(int t, int s, int k, int lane) => BlockMath.LoadF16Fast((byte*)(SuperScales(t, s) + k * Lanes + lane));

    /// <summary>The integer code of (lane, column c): Q6_K q − 32, else q.</summary>
    public int Code(int t, int lane, int c)
    {
        byte* block = Tile(t) + (long)(c >> 5) * BlockBytes;
        if (Type == GgmlType.Q8_0) return (sbyte)(*ByteQ8(block, lane, c & 31) ^ 0x80);
        int nibble = GetNibble(block, lane, c & 31);
        if (Type != GgmlType.Q6_K) return nibble;
        return (nibble | (GetTop2(block, lane, c & 31) << 4)) - 32;
    }

    // Q8_0's byte of column cc (0…31) of a block.
    private static byte* ByteQ8(byte* block, int lane, int cc) => block + (cc >> 2) * 64 + lane * 4 + (cc & 3);

    // Byte of column cc (0…31) of a block in the nibble plane, and whether it is the high nibble.
    private static byte* NibbleByte(byte* block, int lane, int cc, out bool high)
    {
        high = (cc & 4) != 0;
        return block + (cc >> 3) * 64 + lane * 4 + (cc & 3);
    }

    private static int GetNibble(byte* block, int lane, int cc)
    {
        int v = *NibbleByte(block, lane, cc, out bool high);
        return high ? v >> 4 : v & 15;
    }

    private static void PutNibble(byte* block, int lane, int cc, int v)
    {
        byte* b = NibbleByte(block, lane, cc, out bool high);
        *b = high ? (byte)((*b & 0x0F) | (v << 4)) : (byte)((*b & 0xF0) | v);
    }

    // Q6_K's top two bits of column cc: byte 4·lane + (cc & 3) of vector cc >> 4, at bit 2·((cc >> 3 & 1)·2 + (cc >> 2 & 1)).
    private static byte* Top2Byte(byte* block, int lane, int cc, out int shift)
    {
        shift = 2 * (((cc >> 3) & 1) * 2 + ((cc >> 2) & 1));
        return block + NibbleBytes + (cc >> 4) * 64 + lane * 4 + (cc & 3);
    }

    private static int GetTop2(byte* block, int lane, int cc) => (*Top2Byte(block, lane, cc, out int shift) >> shift) & 3;

    private static void PutTop2(byte* block, int lane, int cc, int v)
    {
        byte* b = Top2Byte(block, lane, cc, out int shift);
        *b = (byte)((*b & ~(3 << shift)) | (v << shift));
    }

    /// <summary>The tiles of a Q8_0, Q4_0, Q4_K or Q6_K weight.</summary>
    public static BlockTiles From(GgmlType type, in BlockMatrix w)
    {
        var k = new BlockTiles(type, w.Rows, w.Cols);
        var wc = w;
        ParallelWork.Rows(k.Tiles, 16L * w.Cols, (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
                for (int lane = 0; lane < Lanes; lane++)
                {
                    int r = t * Lanes + lane;
                    if (r >= wc.Rows) break;
                    for (int s = 0; s < k.SuperBlocks; s++)
                    {
                        if (type == GgmlType.Q8_0) k.PutQ8_0(t, lane, s, wc.Row(r) + 34L * s);
                        else if (type == GgmlType.Q4_0) k.PutQ4_0(t, lane, s, wc.Row(r) + 18L * s);
                        else if (type == GgmlType.Q4_K) k.PutQ4K(t, lane, s, wc.Row(r) + 144L * s);
                        else k.PutQ6K(t, lane, s, wc.Row(r) + 210L * s);
                    }
                }
        });
        return k;
    }

    private byte* CodeBlock(int t, int b) => Tile(t) + (long)b * BlockBytes;

    private static ushort F16Bits(byte* p) => (ushort)(p[0] | (p[1] << 8));

    private void PutQ8_0(int t, int lane, int s, byte* block)
    {
        SuperScales(t, s)[lane] = F16Bits(block);
        byte* dst = CodeBlock(t, s);
        for (int i = 0; i < 32; i++) *ByteQ8(dst, lane, i) = (byte)(block[2 + i] ^ 0x80);
    }

    private void PutQ4_0(int t, int lane, int s, byte* block)
    {
        SuperScales(t, s)[lane] = F16Bits(block);
        byte* dst = CodeBlock(t, s);
        for (int i = 0; i < 16; i++)
        {
            PutNibble(dst, lane, i, block[2 + i] & 15);
            PutNibble(dst, lane, 16 + i, block[2 + i] >> 4);
        }
    }

    private void PutQ4K(int t, int lane, int s, byte* block)
    {
        SuperScales(t, s)[lane] = F16Bits(block);
        SuperScales(t, s)[Lanes + lane] = (ushort)(F16Bits(block + 2) ^ 0x8000);   // −dmin: the sign bit flipped
        byte* scaleBytes = Sub + t * SubBytesPerTile + (long)s * Q4KSubBytes + lane;   // this lane's bytes only; zeroed at allocation
        for (int j = 0; j < 8; j++)
        {
            Q4KBlock.ScaleMin(j, block + 4, out int sc, out int m);
            byte* p = scaleBytes + 16 * (j & 3);
            if (j < 4)
            {
                p[0] |= (byte)sc;
                p[128] |= (byte)m;
            }
            else
            {
                p[64] |= (byte)sc;
                p[0] |= (byte)((m & 3) << 6);
                p[64] |= (byte)((m >> 2 & 3) << 6);
                p[128] |= (byte)((m >> 4) << 6);
            }
        }
        byte* qs = block + 16;
        for (int i = 0; i < 256; i++)
        {
            int packed = qs[32 * (i >> 6) + (i & 31)];
            PutNibble(CodeBlock(t, 8 * s + (i >> 5)), lane, i & 31, (i & 32) != 0 ? packed >> 4 : packed & 15);
        }
    }

    private void PutQ6K(int t, int lane, int s, byte* block)
    {
        SuperScales(t, s)[lane] = F16Bits(block + 208);
        sbyte* scales = (sbyte*)(block + 192);
        for (int i = 0; i < 256; i++)
        {
            int h = i >> 7, quarter = (i >> 5) & 3, l = i & 31;
            int low = block[64 * h + l + 32 * (quarter & 1)];
            low = quarter >= 2 ? low >> 4 : low & 15;
            int high = (block[128 + 32 * h + l] >> (2 * quarter)) & 3;
            int b = 8 * s + (i >> 5);
            PutNibble(CodeBlock(t, b), lane, i & 31, low);
            PutTop2(CodeBlock(t, b), lane, i & 31, high);
            if ((i & 15) == 0) Sub[((long)t * Blocks + b) * 2 * Lanes + ((i >> 4) & 1) * Lanes + lane] = (byte)scales[i >> 4];
        }
    }

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        if (_memory == null) return;
        HugePages.Free(_memory);
        _memory = null;
    }
}
