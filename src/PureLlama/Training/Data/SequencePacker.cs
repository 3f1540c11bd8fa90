namespace PureLlama.Training.Data;

/// <summary>
/// Greedy first-fit packing: examples are taken in the given order and each goes into the first
/// (oldest) open row with room for all of it, else starts a new row. Rows are found in O(log n) with a
/// max-tree over the rows' free space, so packing a whole epoch costs O(n log n).
/// </summary>
public static class SequencePacker
{
    /// <summary>Groups example indices into rows of at most <paramref name="capacity"/> tokens.</summary>
    /// <param name="lengths">Token count of every example (each ≤ capacity).</param>
    /// <param name="order">The order to place them in (a permutation of some or all indices).</param>
    /// <param name="capacity">Tokens per row.</param>
    /// <returns>Rows in creation order, each the example indices in placement order.</returns>
    public static List<List<int>> FirstFit(IReadOnlyList<int> lengths, IReadOnlyList<int> order, int capacity)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(order);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        int size = 1;
        while (size < Math.Max(order.Count, 1)) size <<= 1;
        var free = new int[2 * size];   // free[size + row] = free tokens of the row, −1 if not opened; inner nodes hold the max
        Array.Fill(free, -1);
        var rows = new List<List<int>>();
        foreach (int e in order)
        {
            int need = lengths[e];
            if (need < 1 || need > capacity) throw new ArgumentException($"example {e} has {need} tokens; rows hold 1..{capacity}", nameof(lengths));
            int row;
            if (free[1] >= need)
            {
                int node = 1;
                while (node < size) node = free[2 * node] >= need ? 2 * node : 2 * node + 1;
                row = node - size;
            }
            else
            {
                row = rows.Count;
                rows.Add([]);
                free[size + row] = capacity;
            }
            rows[row].Add(e);
            int i = size + row;
            free[i] -= need;
            for (i >>= 1; i > 0; i >>= 1) free[i] = Math.Max(free[2 * i], free[2 * i + 1]);
        }
        return rows;
    }

    /// <summary>Concatenates examples into one row: positions restart at 0 and the segment id grows by one at each example.</summary>
    public static TrainingSequence Concatenate(IReadOnlyList<TrainingExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        int total = examples.Sum(e => e.Length);
        var ids = new int[total];
        var labels = new int[total];
        var pos = new int[total];
        var seg = new int[total];
        int at = 0;
        for (int k = 0; k < examples.Count; k++)
        {
            var e = examples[k];
            e.Ids.CopyTo(ids, at);
            e.Labels.CopyTo(labels, at);
            for (int t = 0; t < e.Length; t++) { pos[at + t] = t; seg[at + t] = k; }
            at += e.Length;
        }
        return new TrainingSequence(ids, labels, pos, seg, examples.Count);
    }
}
