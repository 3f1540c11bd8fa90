using System.Diagnostics;
using PureLlama.Tokenization;

namespace PureLlama.Llama;

/// <summary>
/// The generation loop: prefill the new prompt tokens into a sequence's KV cache, then sample and
/// decode one token at a time until max new tokens, a stop token, a stop string or a full context.
/// Logits are computed for the last position only.
/// </summary>
public static class Generator
{
    /// <summary>
    /// Streams tokens for one sequence. <paramref name="prompt"/> holds the tokens not yet in
    /// <paramref name="cache"/> (all of them for a fresh cache); <paramref name="history"/> the tokens already
    /// in it (they count for the repetition penalty). <paramref name="fed"/>, when given, receives every token
    /// written to the cache, so a caller (a chat) knows what the cache holds. Timings go to <paramref name="stats"/>.
    /// </summary>
    public static IEnumerable<GeneratedToken> Run(LlamaModel model, KvCache cache, int[] prompt, SamplingOptions options,
        IReadOnlyCollection<int> stopTokenIds, Llama3Tokenizer? tokenizer, GenerationStats stats,
        IReadOnlyList<int>? history = null, List<int>? fed = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stats);
        options.Validate();
        if (prompt.Length == 0) throw new ArgumentException("The prompt is empty: give at least one token.", nameof(prompt));
        model.CheckIds(prompt);
        if (prompt.Length > cache.Remaining)
            throw new ContextLengthExceededException(
                $"The prompt has {prompt.Length} tokens but the context has room for {cache.Remaining} ({cache.Length} of {cache.Capacity} positions used). Shorten the prompt or load with a longer context.");
        if (options.StopStrings.Count > 0 && tokenizer is null)
            throw new ArgumentException("Stop strings need a tokenizer to decode the text; this model has none (use stop token ids).");
        return Iterate(model, cache, prompt, options, stopTokenIds, tokenizer, stats, history, fed, cancellation);
    }

    private static IEnumerable<GeneratedToken> Iterate(LlamaModel model, KvCache cache, int[] prompt, SamplingOptions options,
        IReadOnlyCollection<int> stopTokenIds, Llama3Tokenizer? tokenizer, GenerationStats stats,
        IReadOnlyList<int>? history, List<int>? fed, CancellationToken cancellation)
    {
        var sampler = new Sampler(options, model.VocabSize);
        if (history is not null) foreach (int id in history) sampler.Observe(id);
        sampler.Observe(prompt);
        var emitter = new TokenTextEmitter(tokenizer, options, stopTokenIds as HashSet<int> ?? new HashSet<int>(stopTokenIds));
        stats.PromptTokens = prompt.Length;
        stats.KvCacheBytes = cache.ByteLength;
        stats.StopReason = StopReason.None;

        var clock = Stopwatch.StartNew();
        float[] row;
        using (var logits = model.Forward([prompt], [cache])) row = logits.ToFloatArray();   // [1, vocab]
        stats.PrefillSeconds = clock.Elapsed.TotalSeconds;
        fed?.AddRange(prompt);
        stats.SampleMemory();

        for (int index = 0; ; index++)
        {
            if (cancellation.IsCancellationRequested) { stats.StopReason = StopReason.Cancelled; yield break; }
            clock.Restart();
            int id = sampler.Sample(row);
            stats.DecodeSeconds += index > 0 ? clock.Elapsed.TotalSeconds : 0;
            stats.GeneratedTokens++;
            var (text, stop) = emitter.Next(id, index, contextFull: cache.Remaining == 0);
            if (stop != StopReason.None)
            {
                stats.StopReason = stop;
                if (stop == StopReason.StopToken) stats.StopTokenId = id;
                yield return new GeneratedToken(id, text, index);
                yield break;
            }
            yield return new GeneratedToken(id, text, index);

            clock.Restart();
            using (var step = model.Forward([[id]], [cache])) step.CopyFloatsTo(row);        // [1, vocab], into the same array
            stats.DecodeSeconds += clock.Elapsed.TotalSeconds;
            stats.DecodeSteps++;
            fed?.Add(id);
            stats.SampleMemory();
        }
    }

    /// <summary>
    /// Generates for several prompts at once (non-streaming): one batched prefill, then batched
    /// decode steps in which every unfinished sequence contributes one row, so each weight is read
    /// once per step. Each sequence has its own cache and sampler (same options and seed), so its
    /// tokens are those it would get alone. Returns the generated ids per prompt (stop token included).
    /// </summary>
    public static int[][] RunBatch(LlamaModel model, IReadOnlyList<int[]> prompts, SamplingOptions options,
        IReadOnlyCollection<int> stopTokenIds, int contextLength, GenerationStats? stats = null, Tensors.DType kvCacheDType = Tensors.DType.F32)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (prompts.Count == 0) throw new ArgumentException("No prompts were given.", nameof(prompts));
        int b = prompts.Count;
        var caches = new KvCache[b];
        var samplers = new Sampler[b];
        var outputs = new List<int>[b];
        var stops = new HashSet<int>(stopTokenIds);
        try
        {
            for (int s = 0; s < b; s++)
            {
                if (prompts[s] is not { Length: > 0 } p) throw new ArgumentException($"Prompt {s} is empty.", nameof(prompts));
                if (p.Length >= contextLength) throw new ContextLengthExceededException($"Prompt {s} has {p.Length} tokens; the context holds {contextLength}.");
                model.CheckIds(p, s);
                caches[s] = model.CreateCache((int)Math.Min(contextLength, (long)p.Length + options.MaxNewTokens), kvCacheDType);
                samplers[s] = new Sampler(options, model.VocabSize);
                samplers[s].Observe(p);
                outputs[s] = [];
            }
            var active = Enumerable.Range(0, b).ToList();
            var feed = prompts.ToList();
            var clock = Stopwatch.StartNew();
            bool prefill = true;
            while (active.Count > 0)
            {
                clock.Restart();
                float[] rows;
                using (var logits = model.Forward(active.Select(s => feed[s]).ToList(), active.Select(s => caches[s]).ToList()))
                    rows = logits.ToFloatArray();                                   // [active, vocab]
                if (stats is not null)
                {
                    if (prefill) { stats.PrefillSeconds += clock.Elapsed.TotalSeconds; stats.PromptTokens = prompts.Sum(p => p.Length); }
                    else { stats.DecodeSeconds += clock.Elapsed.TotalSeconds; stats.DecodeSteps += active.Count; }
                    stats.SampleMemory();
                }
                prefill = false;
                var still = new List<int>();
                for (int i = 0; i < active.Count; i++)
                {
                    int s = active[i];
                    int id = samplers[s].Sample(rows.AsSpan(i * model.VocabSize, model.VocabSize));
                    outputs[s].Add(id);
                    feed[s] = [id];
                    if (!stops.Contains(id) && outputs[s].Count < options.MaxNewTokens && caches[s].Remaining > 0) still.Add(s);
                }
                active = still;
            }
            if (stats is not null) stats.GeneratedTokens = outputs.Sum(o => o.Count);
            return [.. outputs.Select(o => o.ToArray())];
        }
        finally
        {
            foreach (var c in caches) c?.Dispose();
        }
    }
}
