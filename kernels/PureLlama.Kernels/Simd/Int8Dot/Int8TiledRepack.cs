// Repacking NF4, INT8 and INT4-group weights into Int8TiledWeights (see that file for the layout), on load,
// multi-threaded over tiles. The files on disk are not touched; a format the tiles cannot express returns null
// (the caller keeps the exact F32-code kernels): NF4 whose 64-blocks cross row ends, INT4 groups that are not
// whole 32-column blocks of equal size, a scale that F16 cannot hold (not finite, or ≥ 65 520).
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>Builds <see cref="Int8TiledWeights"/> from the stored formats.</summary>
internal static unsafe class Int8TiledRepack
{
    private const int Lanes = Int8TiledWeights.TileRows;

    /// <summary>INT8 rows: codes copied, s = scb / 127; null when a row scale does not fit F16.</summary>
    public static Int8TiledWeights? FromInt8(in Int8Matrix w)
    {
        var t = new Int8TiledWeights(TiledCodes.Int8, w.Rows, w.Cols, (w.Cols + 31) / 32 * 32, permuted: false);
        var wc = w;
        var fits = new ScaleCheck();
        ParallelWork.Rows(t.Tiles, 16L * w.Cols, (t0, t1) =>
        {
            for (int tile = t0; tile < t1; tile++)
            {
                sbyte* dst = (sbyte*)t.Tile(tile);
                for (int lane = 0; lane < Lanes; lane++)
                {
                    int r = tile * Lanes + lane;
                    if (r >= wc.Rows) break;
                    fits.Note(t.TrySetScale(tile, 0, lane, wc.RowScale(r)));
                    sbyte* q = wc.Values + (long)r * wc.Cols;
                    for (int c = 0; c < wc.Cols; c++) dst[(c >> 2) * 64 + lane * 4 + (c & 3)] = q[c];
                }
            }
        });
        return fits.Keep(t);
    }

    /// <summary>
    /// The 16 NF4 levels on a 7-bit grid: round(64 · map[i] / max|map|) ∈ [−64, 64], and the factor max|map| / 64.
    /// Seven bits, not eight, so that the offset codes L + 64 ≤ 128 keep every vpmaddubsw pair under 2^15 without the
    /// sign trick (docs/kernels/int8-dot.md).
    /// </summary>
    public static (sbyte[] Levels, float Factor) Nf4Levels(float* map)
    {
        const int grid = Int8TiledWeights.Nf4LevelOffset;
        float max = 0;
        for (int i = 0; i < 16; i++) max = MathF.Max(max, MathF.Abs(map[i]));
        var levels = new sbyte[16];
        for (int i = 0; i < 16; i++) levels[i] = max == 0 ? (sbyte)0 : (sbyte)Math.Clamp((int)MathF.Round(grid * map[i] / max), -grid, grid);
        return (levels, max / grid);
    }

    /// <summary>NF4 with row-aligned blocks that are whole 32-column blocks; null otherwise.</summary>
    public static Int8TiledWeights? FromNf4(in Nf4Matrix w)
    {
        if (w.Cols % w.BlockSize != 0 || w.BlockSize % 32 != 0) return null;
        var (levels, factor) = Nf4Levels(w.Map);
        var t = new Int8TiledWeights(TiledCodes.Nf4, w.Rows, w.Cols, w.BlockSize, permuted: false, levels);
        var wc = w;
        var fits = new ScaleCheck();
        int blocksPerRow = w.Cols / w.BlockSize;
        ParallelWork.Rows(t.Tiles, 16L * w.Cols, (t0, t1) =>
        {
            for (int tile = t0; tile < t1; tile++)
            {
                byte* dst = t.Tile(tile);
                for (int lane = 0; lane < Lanes; lane++)
                {
                    int r = tile * Lanes + lane;
                    if (r >= wc.Rows) break;
                    for (int wb = 0; wb < blocksPerRow; wb++)
                        fits.Note(t.TrySetScale(tile, wb, lane, wc.BlockAbsmax((long)r * blocksPerRow + wb) * factor));
                    // Cols is a multiple of 64, so the row starts on a whole byte; per 8 columns the 4 source bytes
                    // (codes c, c+1 | c+2, c+3 | c+4, c+5 | c+6, c+7, first code in the high nibble) become the lane's
                    // 4 bytes (low nibble column c+k, high nibble column c+4+k).
                    byte* src = wc.Packed + ((long)r * wc.Cols >> 1);
                    for (int c = 0; c < wc.Cols; c += 8, src += 4)
                    {
                        byte* d = dst + (c >> 3) * 64 + lane * 4;
                        int b0 = src[0], b1 = src[1], b2 = src[2], b3 = src[3];
                        d[0] = (byte)((b0 >> 4) | (b2 & 0xF0));
                        d[1] = (byte)((b0 & 15) | (b2 << 4));
                        d[2] = (byte)((b1 >> 4) | (b3 & 0xF0));
                        d[3] = (byte)((b1 & 15) | (b3 << 4));
                    }
                }
            }
        });
        return fits.Keep(t);
    }

    /// <summary>INT4 groups (sequential or act-order) of equal size, a multiple of 32 columns; null otherwise.</summary>
    public static Int8TiledWeights? FromInt4(in Int4GroupWeights w)
    {
        int cols = w.Cols, rows = w.Rows, groups = w.Groups;
        if (cols % groups != 0) return null;
        int size = cols / groups;
        if (size % 32 != 0) return null;
        var count = new int[groups];
        for (int i = 0; i < cols; i++)
        {
            int g = w.GIdx[i];
            if ((uint)g >= (uint)groups || ++count[g] > size) return null;
        }
        // Columns ordered by group (stable): block wb of the packed weight is group wb.
        var order = new int[cols];
        var next = new int[groups];
        for (int g = 1; g < groups; g++) next[g] = next[g - 1] + count[g - 1];
        bool identity = true;
        for (int i = 0; i < cols; i++) { int c = next[w.GIdx[i]]++; order[c] = i; identity &= c == i; }
        var t = new Int8TiledWeights(TiledCodes.Int4, rows, cols, size, permuted: !identity);
        if (!identity) order.AsSpan().CopyTo(new Span<int>(t.Permutation, cols));
        var wc = w;
        var fits = new ScaleCheck();
        ParallelWork.Rows(t.Tiles, 16L * cols, (t0, t1) =>
        {
            for (int tile = t0; tile < t1; tile++)
            {
                byte* dst = t.Tile(tile);
                for (int lane = 0; lane < Lanes; lane++)
                {
                    int o = tile * Lanes + lane;
                    if (o >= rows) break;
                    for (int g = 0; g < groups; g++)
                    {
                        fits.Note(t.TrySetScaleBits(tile, g, lane, wc.Scales[(long)g * rows + o]));
                        t.TileZeros(tile, g)[lane] = (byte)(((uint)wc.QZeros[(long)g * (rows / 8) + o / 8] >> (4 * (o % 8))) & 15);
                    }
                    for (int c = 0; c < cols; c++)
                    {
                        int i = order[c];
                        PutNibble(dst, lane, c, (int)(((uint)wc.QWeight[(long)(i / 8) * rows + o] >> (4 * (i % 8))) & 15));
                    }
                }
            }
        });
        return fits.Keep(t);
    }

    /// <summary>Whether every scale a repack stored fit F16 (threads only ever clear it).</summary>
    internal sealed class ScaleCheck
    {
        private volatile bool _failed;

        public void Note(bool fits) { if (!fits) _failed = true; }

        /// <summary>The tiles, or null (freed) when a scale did not fit: the caller keeps the exact path.</summary>
        public Int8TiledWeights? Keep(Int8TiledWeights t)
        {
            if (!_failed) return t;
            t.Dispose();
            return null;
        }
    }

    /// <summary>Stores 4-bit code v of (lane, column c) in the 4-bit tile layout.</summary>
    internal static void PutNibble(byte* tile, int lane, int c, int v)
    {
        int step = c >> 3, k = c & 7;
        byte* b = tile + step * 64 + lane * 4 + (k & 3);
        *b = k < 4 ? (byte)((*b & 0xF0) | v) : (byte)((*b & 0x0F) | (v << 4));
    }

    /// <summary>4-bit code of (lane, column c) (the inverse of <see cref="PutNibble"/>).</summary>
    public static int GetNibble(byte* tile, int lane, int c)
    {
        int step = c >> 3, k = c & 7;
        int b = tile[step * 64 + lane * 4 + (k & 3)];
        return k < 4 ? b & 15 : b >> 4;
    }

    /// <summary>INT8 code of (lane, column c).</summary>
    public static int GetByte(byte* tile, int lane, int c) => ((sbyte*)tile)[(c >> 2) * 64 + lane * 4 + (c & 3)];
}
