// GGUF block weights repacked at load into 16-row tiles for the int8 dot-product kernels, from the GGUF bytes
// (which stay as they are). Each weight row becomes one 32-bit lane; the weight values stay exact:
//
//   Q8_0 → Int8TiledWeights, Int8 codes, one weight block per 32 columns:  ŵ = d · q
//   Q4_0, Q4_K, Q6_K → BlockTiles (nibbles or q − 32 bytes; K-quant sub-block scales kept as integers; see there)
namespace PureLlama.Kernels.Blocks;

using PureLlama.Kernels.Simd;

/// <summary>Builds the int8-dot tiles of a block-format weight (null for a format without a tiled form).</summary>
internal static unsafe class BlockTileRepack
{
    private const int Lanes = Int8TiledWeights.TileRows;

    /// <summary>The tiles of <paramref name="w"/> (an <see cref="Int8TiledWeights"/> or a <see cref="BlockTiles"/>).</summary>
    public static IDisposable? From(GgmlType type, in BlockMatrix w) => type switch
    {
        GgmlType.Q8_0 => FromQ8_0(w),
        GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K => BlockTiles.From(type, w),
        _ => null,
    };

    /// <summary>Q8_0 rows: codes copied, one scale (the block's f16 d, as it is) per 32 columns; null for a non-finite d.</summary>
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
