// Q8_0 and Q4_0 weights repacked into quant-int8's 16-row tiles (Simd/Int8Dot/Int8TiledWeights), so they run
// on the same AVX-512BW micro-kernel as INT8/NF4/INT4 (Int8TiledMatmul): one weight block per 32 columns,
//   Q8_0  codes v = qs (int8), s[r, b] = d          → TiledCodes.Int8
//   Q4_0  codes q = nibble, zero point 8, s[r, b] = d → TiledCodes.Int4   (ŵ = d·(q − 8))
// exactly the stored values (no re-rounding). Q4_K (per-32 mins) and Q6_K (scales per 16) do not fit the tiles;
// they run BlockQ8Matmul on the GGUF bytes directly.
using PureLlama.Kernels.Simd;

namespace PureLlama.Kernels.Blocks;

internal static unsafe class BlockTiledRepack
{
    private const int Lanes = Int8TiledWeights.TileRows;

    /// <summary>The tiles of a Q8_0 or Q4_0 weight; null for the other formats.</summary>
    public static Int8TiledWeights? From(GgmlType type, in BlockMatrix w)
    {
        if (type is not (GgmlType.Q8_0 or GgmlType.Q4_0)) return null;
        bool q8 = type == GgmlType.Q8_0;
        var t = new Int8TiledWeights(q8 ? TiledCodes.Int8 : TiledCodes.Int4, w.Rows, w.Cols, 32, permuted: false);
        var wc = w;
        int blocks = w.Cols / 32, blockBytes = q8 ? 34 : 18;
        // Threads split weight rows; a row owns its lane's bytes of every tile step, so rows never share a byte.
        ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                int tile = r / Lanes, lane = r % Lanes;
                byte* dst = t.Tile(tile), row = wc.Row(r);
                for (int b = 0; b < blocks; b++)
                {
                    byte* block = row + (long)b * blockBytes;
                    t.TileScales(tile, b)[lane] = BlockMath.LoadF16(block);
                    if (q8)
                    {
                        for (int j = 0; j < 32; j++)
                        {
                            int c = 32 * b + j;
                            dst[(c >> 2) * 64 + lane * 4 + (c & 3)] = block[2 + j];
                        }
                        continue;
                    }
                    t.TileZeros(tile, b)[lane] = 8;
                    for (int j = 0; j < 16; j++)
                    {
                        Int8TiledRepack.PutNibble(dst, lane, 32 * b + j, block[2 + j] & 15);
                        Int8TiledRepack.PutNibble(dst, lane, 32 * b + j + 16, block[2 + j] >> 4);
                    }
                }
            }
        });
        return t;
    }
}
