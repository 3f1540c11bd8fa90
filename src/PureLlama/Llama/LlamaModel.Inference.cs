using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>
    /// The inference forward: one step over one or more sequences, each with its own cache and any number of
    /// new tokens (a prefill when a sequence brings several, a decode when one, or a batch of both), appended to
    /// the caches at positions [cache.Length, cache.Length + T). One sequence: <c>Forward([tokens], [cache])</c>. All new tokens go through each weight in one matmul,
    /// so weights are read once per step whatever the batch; attention runs per sequence against
    /// its own cache. Returns [sequences, vocab] (last position of each) or, with
    /// <see cref="LogitRows.All"/>, [total tokens, vocab] in sequence order. Runs without autograd.
    /// </summary>
    public Tensor Forward(IReadOnlyList<int[]> tokens, IReadOnlyList<KvCache> caches, LogitRows rows = LogitRows.Last)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(caches);
        if (tokens.Count == 0) throw new ArgumentException("The batch holds no sequence.", nameof(tokens));
        if (tokens.Count != caches.Count) throw new ArgumentException($"{tokens.Count} token lists but {caches.Count} KV caches: each sequence needs its own cache.");
        var seen = new HashSet<KvCache>(ReferenceEqualityComparer.Instance);
        var slices = new SequenceSlice[tokens.Count];
        int total = 0;
        for (int s = 0; s < tokens.Count; s++)
        {
            var ids = tokens[s] ?? throw new ArgumentNullException(nameof(tokens), $"Sequence {s} has no token list.");
            var cache = caches[s] ?? throw new ArgumentNullException(nameof(caches), $"Sequence {s} has no KV cache.");
            if (ids.Length == 0) throw new ArgumentException($"Sequence {s} has no tokens: the prompt is empty.", nameof(tokens));
            if (!seen.Add(cache)) throw new ArgumentException($"Sequence {s} shares a KV cache with an earlier sequence; each needs its own.", nameof(caches));
            CheckCache(cache);
            CheckIds(ids, s);
            cache.EnsureRoom(ids.Length);
            if (cache.Length + ids.Length > Config.MaxPositionEmbeddings)
                throw new ContextLengthExceededException($"Sequence {s} would reach position {cache.Length + ids.Length - 1}, past max_position_embeddings ({Config.MaxPositionEmbeddings}).");
            slices[s] = new SequenceSlice(total, ids.Length, cache.Length, cache);
            total += ids.Length;
        }
        var flat = new int[total];
        for (int s = 0; s < tokens.Count; s++) tokens[s].CopyTo(flat, slices[s].Row);

        using var noGrad = GradMode.NoGrad();
        using var idsTensor = Tensor.FromArray(flat, new Shape(total), Device);   // I32 [N]
        return Run(idsTensor, slices, rows, hidden: null);
    }

    /// <summary>
    /// One serving step: the new tokens of each sequence (concatenated in <paramref name="flatIds"/>; sequence s has
    /// counts[s] rows at positions [starts[s], starts[s] + counts[s])) against the block pool of <paramref name="paged"/>,
    /// with per-row-group LoRA. Returns the last row's logits of each sequence: [sequences, vocab].
    /// </summary>
    internal Tensor ForwardPaged(int[] flatIds, IReadOnlyList<int> starts, IReadOnlyList<int> counts, PagedStep paged, IRowLora? lora)
    {
        var slices = new SequenceSlice[starts.Count];
        int row = 0;
        for (int s = 0; s < slices.Length; s++)
        {
            slices[s] = new SequenceSlice(row, counts[s], starts[s], null);
            row += counts[s];
        }
        if (row != flatIds.Length) throw new ArgumentException($"{flatIds.Length} token ids for {row} rows.", nameof(flatIds));
        using var noGrad = GradMode.NoGrad();
        using var idsTensor = Tensor.FromArray(flatIds, new Shape(flatIds.Length), Device);   // I32 [N]
        return Run(idsTensor, slices, LogitRows.Last, hidden: null, paged: paged, lora: lora);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first id outside the vocabulary.</summary>
    public void CheckIds(ReadOnlySpan<int> ids, int sequence = 0)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)VocabSize)
                throw new ArgumentException($"Token id {ids[i]} at position {i}{(sequence > 0 ? $" of sequence {sequence}" : "")} is outside the vocabulary [0, {VocabSize}).");
    }

    private void CheckCache(KvCache cache)
    {
        if (cache.Layers != Config.NumHiddenLayers || cache.KvHeads != Config.NumKeyValueHeads || cache.HeadDim != Config.HeadDim)
            throw new ArgumentException($"The KV cache ({cache.Layers} layers × {cache.KvHeads} KV heads × {cache.HeadDim}) was not made for this model ({Config.NumHiddenLayers} × {Config.NumKeyValueHeads} × {Config.HeadDim}).");
        if (cache.Device != Device) throw new ArgumentException($"The KV cache is on {cache.Device}; the model is on {Device}.");
    }
}
