// A quantized weight repacked at load for the int8 dot-product kernels (docs/kernels/int8-dot.md): rows in
// tiles of 16, every weight row one 32-bit lane, so one 64-byte load feeds 16 output rows at once.
//
//   Ŵ[r, c] = s[r, wb(c)] · v[r, c],   v an integer code value, wb(c) = c / BlockCols (the weight block)
//
//   Int8  v = q[r, c] ∈ [−127, 127]; one weight block per row, s = scb[r] / 127.
//         Tile data: per 4 columns one 64-byte step, lane r = the row's 4 bytes.
//   Nf4   v = L[code], L[i] = round(64 · map[i] / max|map|) ∈ [−64, 64] (the 16 levels on a 7-bit grid), stored as
//         the unsigned table u[i] = L[i] + 64 ∈ [0, 128]; s = absmax · max|map| / 64.
//   Int4  v = q − z[r, wb], q ∈ [0, 15]; s = the group scale. Columns are first reordered by group (act-order).
//         4-bit tile data: per 8 columns one 64-byte step, lane r = 4 bytes whose low nibbles are columns
//         c…c+3 and high nibbles c+4…c+7.
//
// Scales are F16 and INT4 zero points bytes, stored [tile, weight block, 16 lanes] (decode reads bytes: F16 is exact for
// GGUF Q8_0 and GPTQ/AWQ scales, which are F16 in their files, and within 2^-11 relative for NF4 and INT8; a scale F16
// cannot hold makes the repack refuse). Padding rows and columns hold zero codes.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>How the codes of an <see cref="Int8TiledWeights"/> are stored and turned into integers.</summary>
internal enum TiledCodes
{
    /// <summary>Signed bytes.</summary>
    Int8,
    /// <summary>4-bit indices into a 16-entry int8 level table.</summary>
    Nf4,
    /// <summary>4-bit unsigned integers with a zero point per (row, weight block).</summary>
    Int4,
}

/// <summary>A weight [rows, cols] in 16-row tiles of int8 or 4-bit codes with per-block F32 scales.</summary>
internal sealed unsafe class Int8TiledWeights : IDisposable
{
    /// <summary>Weight rows per tile (one 32-bit lane of a 512-bit vector each).</summary>
    public const int TileRows = 16;

    private void* _memory;

    public TiledCodes Codes { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int PaddedCols { get; }
    public int Tiles { get; }
    /// <summary>Columns per weight block (a multiple of 32; the whole padded row for INT8).</summary>
    public int BlockCols { get; }
    public int WeightBlocks { get; }
    /// <summary>Code bytes per tile (16 × padded cols for INT8, 8 × for 4-bit codes).</summary>
    public long TileBytes { get; }

    public byte* Data { get; }
    /// <summary>F16 bits [tiles, weight blocks, 16].</summary>
    public ushort* Scales { get; }
    /// <summary>U8 [tiles, weight blocks, 16] zero points (INT4), else null.</summary>
    public byte* Zeros { get; }
    /// <summary>I32 [cols]: column c of the packed weight is column Permutation[c] of the original (act-order), else null.</summary>
    public int* Permutation { get; }
    /// <summary>NF4 levels are stored as u[i] = L[i] + <see cref="Nf4LevelOffset"/>.</summary>
    public const int Nf4LevelOffset = 64;

    /// <summary>NF4: the unsigned level table u[i] = L[i] + 64 ∈ [0, 128] (16 bytes); else zero.</summary>
    public Vector128<byte> OffsetLevels { get; }

    /// <summary>All bytes held (codes, scales, zeros, permutation).</summary>
    public long ByteLength { get; }

    internal Int8TiledWeights(TiledCodes codes, int rows, int cols, int blockCols, bool permuted, sbyte[]? levels = null)
    {
        if (blockCols <= 0 || blockCols % Q8Activations.BlockSize != 0) throw new ArgumentOutOfRangeException(nameof(blockCols), blockCols, "Weight blocks must be whole 32-column blocks.");
        Codes = codes; Rows = rows; Cols = cols;
        PaddedCols = (cols + 31) / 32 * 32;
        Tiles = (rows + TileRows - 1) / TileRows;
        BlockCols = blockCols;
        WeightBlocks = (PaddedCols + blockCols - 1) / blockCols;
        TileBytes = (codes == TiledCodes.Int8 ? 16L : 8L) * PaddedCols;
        long data = TileBytes * Tiles, scales = 2L * Tiles * WeightBlocks * TileRows;
        long zeros = codes == TiledCodes.Int4 ? scales / 2 : 0, perm = permuted ? 4L * cols : 0;
        ByteLength = data + scales + zeros + perm;
        _memory = HugePages.AllocateZeroed((nuint)(ByteLength + 256));
        byte* p = (byte*)_memory;
        Data = p; p += (data + 63) & ~63L;
        Scales = (ushort*)p; p += (scales + 63) & ~63L;
        if (zeros > 0) { Zeros = p; p += (zeros + 63) & ~63L; }
        if (permuted) Permutation = (int*)p;
        if (levels != null)
        {
            var u = new byte[16];
            for (int i = 0; i < 16; i++)
            {
                if (Math.Abs((int)levels[i]) > Nf4LevelOffset) throw new ArgumentOutOfRangeException(nameof(levels), levels[i], "NF4 levels must lie in [−64, 64].");
                u[i] = (byte)(levels[i] + Nf4LevelOffset);
            }
            OffsetLevels = Vector128.Create(u);
        }
    }

    /// <summary>Code bytes of tile t.</summary>
    public byte* Tile(int t) => Data + t * TileBytes;

    /// <summary>F16 scales of tile t, weight block wb (16 lanes).</summary>
    public ushort* TileScales(int t, int wb) => Scales + ((long)t * WeightBlocks + wb) * TileRows;

    /// <summary>Zero points of tile t, weight block wb (16 lanes; INT4 only).</summary>
    public byte* TileZeros(int t, int wb) => Zeros + ((long)t * WeightBlocks + wb) * TileRows;

    /// <summary>The scale of (tile t, weight block wb, lane) as F32 (exact: every F16 is an F32).</summary>
    public float Scale(int t, int wb, int lane) => (float)BitConverter.UInt16BitsToHalf(TileScales(t, wb)[lane]);

    /// <summary>Stores a scale rounded to F16 (nearest even); false when F16 cannot hold it (not finite or ≥ 65 520).</summary>
    public bool TrySetScale(int t, int wb, int lane, float value)
    {
        var h = (Half)value;
        TileScales(t, wb)[lane] = BitConverter.HalfToUInt16Bits(h);
        return Half.IsFinite(h);
    }

    /// <summary>Stores F16 bits as they are (a scale read from a file); false for infinity or NaN.</summary>
    public bool TrySetScaleBits(int t, int wb, int lane, ushort bits)
    {
        TileScales(t, wb)[lane] = bits;
        return Half.IsFinite(BitConverter.UInt16BitsToHalf(bits));
    }

    /// <summary>The integer level of NF4 code i (from the stored tables).</summary>
    public int Level(int i) => OffsetLevels[i] - Nf4LevelOffset;

    /// <summary>Frees the buffers.</summary>
    public void Dispose()
    {
        if (_memory == null) return;
        HugePages.Free(_memory);
        _memory = null;
    }
}
