namespace PureLlama.Training;

/// <summary>
/// The fixed order in which a step's micro-batch gradients are added: a binary tree over the micro-batch indices in
/// which a range of length L ≥ 2 splits after the largest power of two below L (so [0,4) = [0,2) + [2,4) and
/// [0,6) = [0,4) + [4,6)). Every run of the same global batch adds in this order, whatever the number of ranks: each
/// rank sums one subtree (a contiguous block of micro-batches) and the ranks' sums meet at the tree's top. With one
/// or two ranks this makes the summed gradient, and so the whole run, bitwise identical to one process.
/// </summary>
internal static class MicroBatchTree
{
    /// <summary>Where the range [start, start + length) splits: the length of its left subtree (length ≥ 2).</summary>
    public static int LeftLength(int length) => length < 2 ? length : 1 << (31 - int.LeadingZeroCount(length - 1));

    /// <summary>
    /// The contiguous block of micro-batches [Start, End) that rank <paramref name="rank"/> of <paramref name="size"/>
    /// sums: the ranks split the tree top-down (the left subtree takes ⌈ranks/2⌉ of them); a rank may get an empty block.
    /// </summary>
    public static (int Start, int End) Block(int microBatches, int rank, int size)
    {
        if (size < 1 || (uint)rank >= (uint)size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in 0..{size - 1}.");
        int start = 0, length = microBatches, first = 0, ranks = size;
        while (ranks > 1)
        {
            int leftRanks = (ranks + 1) / 2;
            int left = length >= 2 ? LeftLength(length) : length;   // a single micro-batch stays on the left
            if (rank - first < leftRanks) { length = left; ranks = leftRanks; }
            else { start += left; length -= left; first += leftRanks; ranks -= leftRanks; }
        }
        return (start, start + length);
    }
}
