namespace PureLlama.Kernels.Simd;

/// <summary>
/// Several tiled products run as one list of tiles, cut into <see cref="ParallelWork"/> pieces: a thread goes on from one
/// product's tiles to the next without waiting for the others (one join per call, not per product).
/// </summary>
internal static unsafe class TileLists
{
    /// <summary>One product's weight and output checked: a weight, an output, and ldy ≥ the weight's rows.</summary>
    public static void CheckProduct(object? weight, float* y, int ldy, int rows, string paramName)
    {
        ArgumentNullException.ThrowIfNull(weight, paramName);
        if (y == null) throw new ArgumentNullException(paramName, "A product's y is null.");
        if (ldy < rows) throw new ArgumentOutOfRangeException(paramName, ldy, $"ldy must be at least rows = {rows}.");
    }

    /// <summary>The first product q &lt; <paramref name="p"/> whose quantized X product p can share (<paramref name="shares"/>(q)), or −1.</summary>
    public static int FirstSharing(int p, Func<int, bool> shares)
    {
        for (int q = 0; q < p; q++)
            if (shares(q)) return q;
        return -1;
    }

    /// <summary>
    /// Runs <paramref name="tile"/>(p, t) for every tile t of every product p, where product p's tiles are list entries
    /// first[p] … first[p + 1] − 1 (first[0] = 0, first[^1] = all tiles; a product may have none).
    /// </summary>
    public static void Run(int[] first, long workPerTile, Action<int, int> tile)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(tile);
        int tiles = first[^1];
        ParallelWork.Rows(tiles, workPerTile, (g0, g1) =>
        {
            int p = Array.BinarySearch(first, g0);
            p = p >= 0 ? p : ~p - 1;
            for (int g = g0; g < g1; g++)
            {
                while (g >= first[p + 1]) p++;
                tile(p, g - first[p]);
            }
        });
    }
}
