using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace PureLlama.Tokenization;

/// <summary>
/// Byte-level BPE over one pre-token: UTF-8 bytes → one symbol per byte → merges applied by
/// rank (lowest first, leftmost on ties) → token ids. Results are cached per pre-token text in a
/// bounded, thread-safe cache (English text repeats its words, so most pre-tokens are hits).
/// </summary>
internal sealed class BytePairEncoder
{
    private const int CacheCapacity = 200_000;   // entries; the cache is cleared when it fills
    private const int MaxCachedLength = 128;     // UTF-16 units; longer pre-tokens are not cached
    private const int SmallWord = 48;            // symbols; above this the heap-based merge is used

    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocab;
    private readonly Dictionary<long, long> _merges; // (left << 32 | right) → (rank << 32 | merged id)
    private readonly int[] _byteIds;                 // id of the single-byte token of each byte
    private readonly bool _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;
    private int _cacheCount;

    public BytePairEncoder(Dictionary<string, int> vocab, Dictionary<long, long> merges, int[] byteIds, bool ignoreMerges)
    {
        _vocab = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _byteIds = byteIds;
        _ignoreMerges = ignoreMerges;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The merges as (left id, right id) pairs, lowest rank (applied first) first.</summary>
    public IEnumerable<(int Left, int Right)> MergesByRank() =>
        _merges.OrderBy(kv => kv.Value >> 32).Select(kv => ((int)(kv.Key >> 32), (int)kv.Key));

    /// <summary>Appends the ids of one pre-token (given as original text) to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> piece, List<int> output)
    {
        if (_cacheBySpan.TryGetValue(piece, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        int[] ids = EncodeUncached(piece);
        output.AddRange(ids);
        if (piece.Length <= MaxCachedLength)
        {
            if (Interlocked.Increment(ref _cacheCount) > CacheCapacity)
            {
                _cache.Clear();
                Interlocked.Exchange(ref _cacheCount, 0);
            }
            _cacheBySpan.TryAdd(piece, ids);
        }
    }

    private int[] EncodeUncached(ReadOnlySpan<char> piece)
    {
        int maxBytes = Encoding.UTF8.GetMaxByteCount(piece.Length);
        byte[]? rentedBytes = null;
        Span<byte> bytes = maxBytes <= 512 ? stackalloc byte[512] : (rentedBytes = ArrayPool<byte>.Shared.Rent(maxBytes));
        int n = Encoding.UTF8.GetBytes(piece, bytes);
        bytes = bytes[..n];
        try
        {
            if (_ignoreMerges)
            {
                char[]? rentedChars = null;
                Span<char> chars = n <= 512 ? stackalloc char[512] : (rentedChars = ArrayPool<char>.Shared.Rent(n));
                ByteLevel.Encode(bytes, chars);
                bool found = _vocab.TryGetValue(chars[..n], out int whole);
                if (rentedChars is not null) ArrayPool<char>.Shared.Return(rentedChars);
                if (found) return [whole];
            }
            return n <= SmallWord ? MergeSmall(bytes) : MergeLarge(bytes);
        }
        finally
        {
            if (rentedBytes is not null) ArrayPool<byte>.Shared.Return(rentedBytes);
        }
    }

    // Rank and result of merging (left, right), or rank int.MaxValue when no merge applies.
    private (int Rank, int Merged) Lookup(int left, int right)
    {
        if (_merges.TryGetValue((long)left << 32 | (uint)right, out long v)) return ((int)(v >> 32), (int)v);
        return (int.MaxValue, -1);
    }

    // Arrays of symbols and pair ranks; each merge rescans for the minimum (cheap for short words).
    internal int[] MergeSmall(ReadOnlySpan<byte> bytes)
    {
        int n = bytes.Length;
        Span<int> sym = stackalloc int[n];
        Span<int> rank = stackalloc int[n];
        Span<int> merged = stackalloc int[n];
        for (int i = 0; i < n; i++) sym[i] = _byteIds[bytes[i]];
        for (int i = 0; i + 1 < n; i++) (rank[i], merged[i]) = Lookup(sym[i], sym[i + 1]);
        while (n > 1)
        {
            int best = 0;
            for (int i = 1; i < n - 1; i++) if (rank[i] < rank[best]) best = i;
            if (rank[best] == int.MaxValue) break;
            sym[best] = merged[best];
            sym[(best + 2)..n].CopyTo(sym[(best + 1)..]);
            rank[(best + 2)..n].CopyTo(rank[(best + 1)..]);
            merged[(best + 2)..n].CopyTo(merged[(best + 1)..]);
            n--;
            if (best > 0) (rank[best - 1], merged[best - 1]) = Lookup(sym[best - 1], sym[best]);
            if (best + 1 < n) (rank[best], merged[best]) = Lookup(sym[best], sym[best + 1]);
            else rank[best] = int.MaxValue;
        }
        return sym[..n].ToArray();
    }

    // Doubly linked symbols and a min-heap of candidate pairs keyed by (rank, position);
    // entries made stale by earlier merges are recognised and skipped when popped.
    internal int[] MergeLarge(ReadOnlySpan<byte> bytes)
    {
        int n = bytes.Length;
        var sym = new int[n];
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++) { sym[i] = _byteIds[bytes[i]]; next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
        var heap = new PriorityQueue<Candidate, long>(n);
        void Push(int pos)
        {
            int right = next[pos];
            if (right < 0) return;
            var (r, m) = Lookup(sym[pos], sym[right]);
            if (r != int.MaxValue) heap.Enqueue(new Candidate(pos, right, sym[pos], sym[right], m), (long)r << 32 | (uint)pos);
        }
        for (int i = 0; i + 1 < n; i++) Push(i);
        int count = n;
        while (heap.TryDequeue(out var c, out _))
        {
            if (sym[c.Pos] != c.Left || next[c.Pos] != c.RightPos || sym[c.RightPos] != c.Right) continue; // stale
            sym[c.Pos] = c.Merged;
            sym[c.RightPos] = -1;
            int after = next[c.RightPos];
            next[c.Pos] = after;
            if (after >= 0) prev[after] = c.Pos;
            count--;
            if (prev[c.Pos] >= 0) Push(prev[c.Pos]);
            Push(c.Pos);
        }
        var result = new int[count];
        for (int i = 0, k = 0; i >= 0; i = next[i]) result[k++] = sym[i];
        return result;
    }

    private readonly record struct Candidate(int Pos, int RightPos, int Left, int Right, int Merged);
}
