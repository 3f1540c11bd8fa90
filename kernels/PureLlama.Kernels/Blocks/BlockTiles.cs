// Q4_0, Q4_K and Q6_K weights repacked at load for the int8 dot-product kernel BlockTiledMatmul: rows in tiles of 16,
// each weight row one 32-bit lane, so one 64-byte load feeds 16 output rows. The weight values stay exact:
//
//   Q4_0  ŵ[c] = d·(q[c] − 8)                  q ∈ [0, 15]; scale group ("super-block") = the block of 32
//   Q4_K  ŵ[c] = d·sc_j·q[c] − dmin·m_j        q ∈ [0, 15], sc_j, m_j ∈ [0, 63] (sub-block j = 32 columns of 256)
//   Q6_K  ŵ[c] = d·sc_h·(q[c] − 32)            q ∈ [0, 63], sc_h ∈ [−128, 127] (half h = 16 columns)
//
// Layout per tile: codes [32-column block, step, lane, 4 bytes] as Int8TiledWeights stores them (Q6_K: q as
// unsigned bytes, 4 columns per 64-byte step; Q4_0/Q4_K: nibbles, 8 columns per step, low nibbles columns c…c+3, high
// c+4…c+7); K-quants' sub-scales as int8 [block, 2, 16 lanes] (Q6_K: sc of the block's two halves; Q4_K: sc_j, m_j);
// per super-block F32 [16 lanes] d (Q4_K: then 16 lanes of −dmin). Padding rows hold zeros.
using System.Runtime.InteropServices;
using PureLlama.Kernels.Simd;

namespace PureLlama.Kernels.Blocks;

/// <summary>A Q4_0, Q4_K or Q6_K weight [rows, cols] in 16-row tiles of codes with integer sub-block scales.</summary>
internal sealed unsafe class BlockTiles : IDisposable
{
    /// <summary>Weight rows per tile.</summary>
    public const int TileRows = 16;
    private const int Lanes = TileRows;

    private void* _memory;

    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Tiles { get; }
    /// <summary>32-column blocks per row, blocks per super-block (1 for Q4_0, 8 for the K-quants), super-blocks per row.</summary>
    public int Blocks { get; }
    public int BlocksPerSuper { get; }
    public int SuperBlocks { get; }
    /// <summary>F32 vectors of 16 per super-block: 1 (d), or 2 for Q4_K (d, −dmin).</summary>
    public int ScalesPerSuper { get; }
    /// <summary>Code bytes of one 32-column block of a tile (512 for Q6_K, 256 for nibbles).</summary>
    public int BlockBytes { get; }
    public long TileBytes { get; }
    public byte* Data { get; }
    /// <summary>I8 [tiles, blocks, 2, 16] (K-quants only).</summary>
    public sbyte* Sub { get; }
    /// <summary>F32 [tiles, super-blocks, ScalesPerSuper, 16].</summary>
    public float* Super { get; }
    /// <summary>All bytes held.</summary>
    public long ByteLength { get; }

    private BlockTiles(GgmlType type, int rows, int cols)
    {
        Type = type; Rows = rows; Cols = cols;
        BlocksPerSuper = type == GgmlType.Q4_0 ? 1 : 8;
        if (cols % (32 * BlocksPerSuper) != 0) throw new ArgumentException($"{type} rows are whole blocks of {32 * BlocksPerSuper} values; {cols} is not.", nameof(cols));
        Tiles = (rows + Lanes - 1) / Lanes;
        Blocks = cols / 32; SuperBlocks = Blocks / BlocksPerSuper;
        ScalesPerSuper = type == GgmlType.Q4_K ? 2 : 1;
        BlockBytes = type == GgmlType.Q6_K ? 512 : 256;
        TileBytes = (long)BlockBytes * Blocks;
        long data = TileBytes * Tiles, sub = type == GgmlType.Q4_0 ? 0 : 32L * Tiles * Blocks, super = 64L * ScalesPerSuper * Tiles * SuperBlocks;
        ByteLength = data + sub + super;
        _memory = NativeMemory.AlignedAlloc((nuint)(ByteLength + 192), 64);
        NativeMemory.Clear(_memory, (nuint)(ByteLength + 192));
        byte* p = (byte*)_memory;
        Data = p; p += (data + 63) & ~63L;
        Sub = (sbyte*)p; p += (sub + 63) & ~63L;
        Super = (float*)p;
    }

    /// <summary>Code bytes of tile t.</summary>
    public byte* Tile(int t) => Data + t * TileBytes;

    /// <summary>The 2 × 16 sub-scales of tile t, block b (K-quants).</summary>
    public sbyte* SubScales(int t, int b) => Sub + ((long)t * Blocks + b) * 2 * Lanes;

    /// <summary>d (16 lanes), then for Q4_K −dmin (16 lanes), of tile t, super-block s.</summary>
    public float* SuperScales(int t, int s) => Super + ((long)t * SuperBlocks + s) * ScalesPerSuper * Lanes;

    /// <summary>The integer code of (lane, column c): Q6_K q − 32, else q.</summary>
    public int Code(int t, int lane, int c) => Type == GgmlType.Q6_K
        ? Tile(t)[(c >> 2) * 64 + lane * 4 + (c & 3)] - 32
        : Int8TiledRepack.GetNibble(Tile(t), lane, c);

    /// <summary>The tiles of a Q4_0, Q4_K or Q6_K weight.</summary>
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
                        if (type == GgmlType.Q4_0) k.PutQ4_0(t, lane, s, wc.Row(r) + 18L * s);
                        else if (type == GgmlType.Q4_K) k.PutQ4K(t, lane, s, wc.Row(r) + 144L * s);
                        else k.PutQ6K(t, lane, s, wc.Row(r) + 210L * s);
                    }
                }
        });
        return k;
    }

    private void PutQ4_0(int t, int lane, int s, byte* block)
    {
        SuperScales(t, s)[lane] = BlockMath.LoadF16(block);
        for (int i = 0; i < 16; i++)
        {
            Int8TiledRepack.PutNibble(Tile(t), lane, 32 * s + i, block[2 + i] & 15);
            Int8TiledRepack.PutNibble(Tile(t), lane, 32 * s + 16 + i, block[2 + i] >> 4);
        }
    }

    private void PutQ4K(int t, int lane, int s, byte* block)
    {
        SuperScales(t, s)[lane] = BlockMath.LoadF16(block);
        SuperScales(t, s)[Lanes + lane] = -BlockMath.LoadF16(block + 2);
        for (int j = 0; j < 8; j++)
        {
            Q4KBlock.ScaleMin(j, block + 4, out int sc, out int m);
            sbyte* sub = SubScales(t, 8 * s + j);
            sub[lane] = (sbyte)sc;
            sub[Lanes + lane] = (sbyte)m;
        }
        byte* qs = block + 16;
        for (int i = 0; i < 256; i++)
        {
            int packed = qs[32 * (i >> 6) + (i & 31)];
            Int8TiledRepack.PutNibble(Tile(t), lane, 256 * s + i, (i & 32) != 0 ? packed >> 4 : packed & 15);
        }
    }

    private void PutQ6K(int t, int lane, int s, byte* block)
    {
        SuperScales(t, s)[lane] = BlockMath.LoadF16(block + 208);
        sbyte* scales = (sbyte*)(block + 192);
        byte* dst = Tile(t);
        for (int i = 0; i < 256; i++)
        {
            int h = i >> 7, quarter = (i >> 5) & 3, l = i & 31;
            int low = block[64 * h + l + 32 * (quarter & 1)];
            low = quarter >= 2 ? low >> 4 : low & 15;
            int high = (block[128 + 32 * h + l] >> (2 * quarter)) & 3;
            int c = 256 * s + i;
            dst[(c >> 2) * 64 + lane * 4 + (c & 3)] = (byte)(low | (high << 4));
            if ((i & 15) == 0) SubScales(t, c >> 5)[((i >> 4) & 1) * Lanes + lane] = scales[i >> 4];
        }
    }

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        if (_memory == null) return;
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
