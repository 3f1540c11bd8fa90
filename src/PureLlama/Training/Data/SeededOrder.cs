namespace PureLlama.Training.Data;

/// <summary>
/// Deterministic permutations and splits. The generator is SplitMix64 (Steele, Lea and Flood 2014),
/// written here so orders never change with the .NET version; shuffles are Fisher–Yates from the end.
/// </summary>
public static class SeededOrder
{
    /// <summary>A permutation of 0..n−1 that depends only on (<paramref name="n"/>, <paramref name="seed"/>, <paramref name="stream"/>).</summary>
    /// <param name="n">Number of items.</param>
    /// <param name="seed">The user's seed.</param>
    /// <param name="stream">A second key, e.g. the epoch, so each epoch gets its own order.</param>
    public static int[] Permutation(int n, ulong seed, ulong stream = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        ulong state = seed ^ (stream * 0xD1B54A32D192ED03UL) ^ 0x5851F42D4C957F2DUL;
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(Next(ref state) % (ulong)(i + 1)); // modulo bias < 2^-32 for any realistic n
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>
    /// Splits <paramref name="items"/> into disjoint train and eval lists: <paramref name="evalCount"/> items chosen
    /// by a seeded permutation go to eval; both lists keep the original order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="evalCount"/> is negative or not less than the item count (train would be empty).</exception>
    public static (List<T> Train, List<T> Eval) Split<T>(IReadOnlyList<T> items, int evalCount, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (evalCount < 0 || (evalCount > 0 && evalCount >= items.Count))
            throw new ArgumentOutOfRangeException(nameof(evalCount), evalCount, $"the eval split must hold 0..{items.Count - 1} of {items.Count} items so training keeps at least one");
        var isEval = new bool[items.Count];
        var perm = Permutation(items.Count, seed, stream: 0xE7A1);
        for (int k = 0; k < evalCount; k++) isEval[perm[k]] = true;
        var train = new List<T>(items.Count - evalCount);
        var eval = new List<T>(evalCount);
        for (int i = 0; i < items.Count; i++) (isEval[i] ? eval : train).Add(items[i]);
        return (train, eval);
    }

    /// <summary>The eval count for a split given as a fraction (0 ≤ f &lt; 1, rounded, at least 1 when f &gt; 0) or, when ≥ 1, as a count.</summary>
    public static int EvalCount(double fractionOrCount, int total)
    {
        if (double.IsNaN(fractionOrCount) || fractionOrCount < 0)
            throw new ArgumentOutOfRangeException(nameof(fractionOrCount), fractionOrCount, "the eval split must be a fraction in [0, 1) or a count ≥ 1");
        if (fractionOrCount >= 1) return (int)Math.Min(fractionOrCount, int.MaxValue);
        if (fractionOrCount == 0) return 0;
        return Math.Max(1, (int)Math.Round(fractionOrCount * total));
    }

    private static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
