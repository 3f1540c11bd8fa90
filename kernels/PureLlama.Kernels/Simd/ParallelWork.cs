namespace PureLlama.Kernels.Simd;

/// <summary>
/// Splitting a kernel's work across threads. Calls below <see cref="MinParallelElements"/> run
/// serially on the caller's thread (no scheduling overhead on tiny calls); larger ones are cut
/// into contiguous pieces run by <see cref="SpinFork"/> (parked spinning workers; Parallel.For when they
/// are busy). Pieces never share an output element, so results do not depend on the thread count.
/// </summary>
internal static class ParallelWork
{
    /// <summary>Below this many elements of work a kernel runs serially.</summary>
    internal const long MinParallelElements = 32 * 1024;

    /// <summary>
    /// Pieces per thread a call is cut into at most: the caller and the workers take them from a shared counter, so a
    /// thread that the machine slows down (another tenant, an interrupt) leaves at most one small piece for the others to
    /// wait on. PURELLAMA_PIECES_PER_THREAD overrides it (for measurements).
    /// </summary>
    internal static readonly int PiecesPerThread =
        int.TryParse(Environment.GetEnvironmentVariable("PURELLAMA_PIECES_PER_THREAD"), out int p) && p >= 1 ? p : 4;

    /// <summary>Largest span length handed to span-based helpers (spans are int-indexed).</summary>
    internal const int MaxSpan = 1 << 30;

    /// <summary>Runs body(start, end) over [0, n) in pieces of at least <paramref name="grain"/> elements (64-aligned starts).</summary>
    internal static void For(long n, Action<long, long> body, long grain = 16 * 1024)
    {
        int threads = SimdThreading.MaxThreads;
        if (n < MinParallelElements || threads == 1) { body(0, n); return; }
        long pieces = Math.Min(threads * (long)PiecesPerThread, (n + grain - 1) / grain);
        long per = ((n + pieces - 1) / pieces + 63) & ~63L;
        pieces = (n + per - 1) / per;
        SpinFork.Run((int)pieces, k =>
        {
            long s = k * per, e = Math.Min(n, s + per);
            if (s < e) body(s, e);
        });
    }

    /// <summary>Runs body(start, end) over [0, items) where each item is <paramref name="workPerItem"/> elements of work.</summary>
    internal static void ForItems(long items, long workPerItem, Action<long, long> body)
    {
        int threads = SimdThreading.MaxThreads;
        if (items <= 1 || threads == 1 || items * workPerItem < MinParallelElements) { body(0, items); return; }
        long byWork = Math.Max(1, items * workPerItem / (8 * 1024));
        long pieces = Math.Min(Math.Min(items, threads * (long)PiecesPerThread), byWork);
        long per = (items + pieces - 1) / pieces;
        pieces = (items + per - 1) / per;
        SpinFork.Run((int)pieces, k =>
        {
            long s = k * per, e = Math.Min(items, s + per);
            if (s < e) body(s, e);
        });
    }

    /// <summary>Runs body(firstRow, endRow) over [0, rows); serial when rows·elementsPerRow is small.</summary>
    internal static void Rows(int rows, long elementsPerRow, Action<int, int> body)
    {
        int threads = SimdThreading.MaxThreads;
        if (rows == 1 || threads == 1 || (long)rows * elementsPerRow < MinParallelElements) { body(0, rows); return; }
        // Enough pieces to balance load, but each piece at least ~8K elements of work.
        long byWork = Math.Max(1, (long)rows * elementsPerRow / (8 * 1024));
        int pieces = (int)Math.Min(Math.Min(rows, threads * (long)PiecesPerThread), byWork);
        int per = (rows + pieces - 1) / pieces;
        pieces = (rows + per - 1) / per;
        SpinFork.Run(pieces, k =>
        {
            int s = k * per, e = Math.Min(rows, s + per);
            if (s < e) body(s, e);
        });
    }
}
