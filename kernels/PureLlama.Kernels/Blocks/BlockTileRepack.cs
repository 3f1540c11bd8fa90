// GGUF block weights repacked at load into 16-row tiles for the int8 dot-product kernels, from the GGUF bytes
// (which stay as they are). Each weight row becomes one 32-bit lane; the weight values stay exact:
//
//   Q8_0, Q4_0, Q4_K, Q6_K → BlockTiles (nibble planes, f16 scales, K-quant sub-block scales kept as integers; see there)
//   Q8_0 also → Int8TiledWeights (quant-int8's tiles, f16 scale per 32 columns): FromQ8_0, kept for bench-blocks --in-cache
namespace PureLlama.Kernels.Blocks;

using PureLlama.Kernels.Simd;

/// <summary>Builds the int8-dot tiles of a block-format weight (null for a format without a tiled form).</summary>
internal static unsafe class BlockTileRepack
{
    private const int Lanes = Int8TiledWeights.TileRows;

    /// <summary>The tiles of <paramref name="w"/> (a <see cref="BlockTiles"/>).</summary>
    public static IDisposable? From(GgmlType type, in BlockMatrix w) => type switch
    {
        GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K => BlockTiles.From(type, w),
        _ => null,
    };

    /// <summary>Q8_0 rows in quant-int8's tiles (comparison only): codes copied, one scale (the block's f16 d) per 32 columns; null for a non-finite d.</summary>
    public static Int8TiledWeights? FromQ8_0(in BlockMatrix w)
    {
        var t = new Int8TiledWeights(TiledCodes.Int8, w.Rows, w.Cols, 32, permuted: false);
        var wc = w;
        var fits = new Int8TiledRepack.ScaleCheck();
        ParallelWork.Rows(t.Tiles, 16L * w.Cols, (t0, t1) =>
        {
            for (int tile = t0; tile < t1; tile++)
            {
                sbyte* dst = (sbyte*)t.Tile(tile);
                for (int lane = 0; lane < Lanes; lane++)
                {
                    int r = tile * Lanes + lane;
                    if (r >= wc.Rows) break;
                    byte* row = wc.Row(r);
                    for (int b = 0; b < wc.Cols / 32; b++)
                    {
                        byte* block = row + 34L * b;
                        fits.Note(t.TrySetScaleBits(tile, b, lane, *(ushort*)block));
                        for (int k = 0; k < 32; k++)
                        {
                            int c = 32 * b + k;
                            dst[(c >> 2) * 64 + lane * 4 + (c & 3)] = (sbyte)block[2 + k];
                        }
                    }
                }
            }
        });
        return fits.Keep(t);
    }
}
