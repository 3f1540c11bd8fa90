using System.Text;

namespace PureLlama.Tokenization;

/// <summary>Options of <see cref="BpeTrainer"/>.</summary>
public sealed class BpeTrainerOptions
{
    /// <summary>Total vocabulary size, special tokens included (the model's <c>vocab_size</c>): 256 byte tokens + merged tokens + special tokens.</summary>
    public int VocabSize { get; init; } = 8192;
    /// <summary>Number of special tokens (at least 10: the Llama 3 layout of ids base+0..9, then reserved ones).</summary>
    public int SpecialTokenCount { get; init; } = 16;
    /// <summary>Stop early when the most frequent pair occurs fewer times than this.</summary>
    public int MinFrequency { get; init; } = 2;
}

/// <summary>A trained byte-level BPE vocabulary (see <see cref="BpeTrainer"/>).</summary>
/// <param name="Tokens">Regular tokens in byte-level form, index = id (256 single bytes in GPT-2 order, then merged tokens in creation order).</param>
/// <param name="Merges">Merges in rank order (byte-level forms of the left and right parts).</param>
/// <param name="SpecialTokens">Special tokens, ids right after the regular ones.</param>
/// <param name="UniqueWords">Distinct pre-tokens counted.</param>
/// <param name="PreTokens">Pre-tokens in the training text.</param>
public sealed record BpeVocabulary(IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges,
    IReadOnlyList<AddedToken> SpecialTokens, int UniqueWords, long PreTokens)
{
    /// <summary>Regular plus special tokens.</summary>
    public int VocabSize => Tokens.Count + SpecialTokens.Count;
}

/// <summary>
/// Trains a byte-level BPE vocabulary the way Llama 3's was built: text is split by the Llama 3
/// pre-tokenizer (<see cref="Llama3PreTokenizer"/>), each distinct pre-token ("word") is counted once
/// with its frequency, its UTF-8 bytes are the initial symbols, and the most frequent adjacent pair
/// (counted over words × frequency, never across pre-tokens) is merged repeatedly.
/// <para><b>Incremental counts.</b> Pair counts and, per pair, the words it occurs in are kept; a merge
/// re-counts only the words that contain the pair (subtract their old pairs, merge left to right, add the
/// new pairs) and pushes pairs whose count rose onto a max-heap; popped entries whose count is stale are
/// re-pushed with the current count.</para>
/// <para><b>Ties</b> between equally frequent pairs go to the smaller (left id, right id), ids being
/// assigned in creation order (bytes in GPT-2 order first), so the output is a pure function of the text
/// and options. A merged string that already exists reuses its id (its merge is still recorded).</para>
/// </summary>
public static class BpeTrainer
{
    /// <summary>Trains on the text of <paramref name="texts"/> (each pre-tokenized separately).</summary>
    /// <exception cref="ArgumentOutOfRangeException">VocabSize leaves no room for the 256 byte tokens and the special tokens.</exception>
    public static BpeVocabulary Train(IEnumerable<string> texts, BpeTrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= new BpeTrainerOptions();
        if (options.SpecialTokenCount < 10) throw new ArgumentOutOfRangeException(nameof(options), options.SpecialTokenCount, "SpecialTokenCount must be at least 10 (the Llama 3 control tokens)");
        int regularTarget = options.VocabSize - options.SpecialTokenCount;
        if (regularTarget < 256) throw new ArgumentOutOfRangeException(nameof(options), options.VocabSize, $"VocabSize must be at least 256 + {options.SpecialTokenCount} special tokens");

        // 1. Count pre-tokens.
        var wordCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = wordCounts.GetAlternateLookup<ReadOnlySpan<char>>();
        long preTokens = 0;
        foreach (string text in texts)
        {
            ReadOnlySpan<char> span = text;
            for (int pos = 0; pos < span.Length;)
            {
                int len = Llama3PreTokenizer.NextLength(span, pos);
                var piece = span.Slice(pos, len);
                lookup[piece] = lookup.TryGetValue(piece, out long c) ? c + 1 : 1;
                preTokens++;
                pos += len;
            }
        }

        // 2. Byte alphabet: id k is the k-th byte in GPT-2 order (self-mapped bytes first, as in Llama 3's vocabulary).
        var tokens = new List<string>(regularTarget);
        var tokenId = new Dictionary<string, int>(StringComparer.Ordinal);
        var byteId = new int[256];
        foreach (int b in Enumerable.Range(0, 256).OrderBy(b => ByteLevel.ByteToChar((byte)b)))
        {
            byteId[b] = tokens.Count;
            tokenId[ByteLevel.ByteToChar((byte)b).ToString()] = tokens.Count;
            tokens.Add(ByteLevel.ByteToChar((byte)b).ToString());
        }

        // 3. Words as symbol arrays, in a deterministic (ordinal) order.
        var keys = wordCounts.Keys.ToArray();
        Array.Sort(keys, StringComparer.Ordinal);
        var words = new int[keys.Length][];
        var counts = new long[keys.Length];
        var state = new PairState();
        for (int w = 0; w < keys.Length; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(keys[w]);
            words[w] = bytes.Select(b => byteId[b]).ToArray();
            counts[w] = wordCounts[keys[w]];
            state.AddWord(words[w], counts[w], w);
        }
        state.PushAll();

        // 4. Merge.
        var merges = new List<(string, string)>();
        while (tokens.Count < regularTarget && state.PopBest(options.MinFrequency) is long pair)
        {
            int a = (int)(pair >> 32), b = (int)(uint)pair;
            string merged = tokens[a] + tokens[b];
            if (!tokenId.TryGetValue(merged, out int z))
            {
                z = tokens.Count;
                tokens.Add(merged);
                tokenId[merged] = z;
            }
            merges.Add((tokens[a], tokens[b]));
            state.Merge(pair, z, words, counts);
        }

        int baseId = tokens.Count;
        var specials = SpecialTokenNames(options.SpecialTokenCount).Select((s, k) => new AddedToken(baseId + k, s, true)).ToList();
        return new BpeVocabulary(tokens.AsReadOnly(), merges.AsReadOnly(), specials.AsReadOnly(), keys.Length, preTokens);
    }

    /// <summary>
    /// The special tokens in Llama 3.0's order: begin_of_text, end_of_text, reserved 0–3, start_header_id,
    /// end_header_id, reserved 4, eot_id, then reserved 5, 6, … up to <paramref name="count"/> tokens.
    /// </summary>
    public static IEnumerable<string> SpecialTokenNames(int count)
    {
        string[] head =
        [
            "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
            "<|reserved_special_token_2|>", "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|reserved_special_token_4|>", "<|eot_id|>",
        ];
        for (int k = 0; k < count; k++) yield return k < head.Length ? head[k] : $"<|reserved_special_token_{k - head.Length + 5}|>";
    }

    // Pair counts, the words each pair occurs in (may hold stale or repeated entries; checked on use),
    // and a max-heap of (count, pair) with lazy invalidation.
    private sealed class PairState
    {
        private readonly Dictionary<long, long> _count = new();
        private readonly Dictionary<long, List<int>> _where = new();
        private readonly PriorityQueue<long, (long Count, long Pair)> _heap = new(Comparer<(long Count, long Pair)>.Create(
            (x, y) => x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair))); // count desc, then (left, right) asc

        private static long Key(int a, int b) => (long)a << 32 | (uint)b;

        public void AddWord(int[] sym, long count, int w)
        {
            for (int i = 0; i + 1 < sym.Length; i++)
            {
                long p = Key(sym[i], sym[i + 1]);
                _count[p] = _count.GetValueOrDefault(p) + count;
                var list = _where.TryGetValue(p, out var l) ? l : _where[p] = [];
                if (list.Count == 0 || list[^1] != w) list.Add(w);
            }
        }

        public void PushAll()
        {
            foreach (var (p, c) in _count) _heap.Enqueue(p, (c, p));
        }

        public long? PopBest(int minFrequency)
        {
            while (_heap.TryDequeue(out long p, out var prio))
            {
                long current = _count.GetValueOrDefault(p);
                if (current != prio.Count)
                {
                    if (current > 0) _heap.Enqueue(p, (current, p));
                    continue;
                }
                if (current < Math.Max(1, minFrequency)) return null;
                return p;
            }
            return null;
        }

        public void Merge(long pair, int z, int[][] words, long[] counts)
        {
            int a = (int)(pair >> 32), b = (int)(uint)pair;
            var delta = new Dictionary<long, long>();
            var touched = _where[pair];
            _where.Remove(pair);
            foreach (int w in touched)
            {
                int[] sym = words[w];
                if (!Contains(sym, a, b)) continue;
                long c = counts[w];
                for (int i = 0; i + 1 < sym.Length; i++) { long p = Key(sym[i], sym[i + 1]); delta[p] = delta.GetValueOrDefault(p) - c; }
                var merged = new List<int>(sym.Length);
                for (int i = 0; i < sym.Length; i++)
                {
                    if (i + 1 < sym.Length && sym[i] == a && sym[i + 1] == b) { merged.Add(z); i++; }
                    else merged.Add(sym[i]);
                }
                sym = words[w] = merged.ToArray();
                for (int i = 0; i + 1 < sym.Length; i++)
                {
                    long p = Key(sym[i], sym[i + 1]);
                    delta[p] = delta.GetValueOrDefault(p) + c;
                    var list = _where.TryGetValue(p, out var l) ? l : _where[p] = [];
                    if (list.Count == 0 || list[^1] != w) list.Add(w);
                }
            }
            foreach (var (p, d) in delta)
            {
                if (d == 0) continue;
                long now = _count.GetValueOrDefault(p) + d;
                if (now <= 0) _count.Remove(p); else _count[p] = now;
                if (d > 0) _heap.Enqueue(p, (now, p));
            }
        }

        private static bool Contains(int[] sym, int a, int b)
        {
            for (int i = 0; i + 1 < sym.Length; i++) if (sym[i] == a && sym[i + 1] == b) return true;
            return false;
        }
    }
}
