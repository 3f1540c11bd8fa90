using System.Diagnostics;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>What <see cref="Perplexity.Evaluate"/> measured.</summary>
/// <param name="TokensScored">Tokens whose negative log-likelihood was summed (every token but the first, once).</param>
/// <param name="MeanNll">Mean negative log-likelihood per scored token (nats).</param>
/// <param name="Windows">Forward windows run.</param>
/// <param name="TokensProcessed">Tokens fed through the model (overlapping windows count their overlap again).</param>
/// <param name="Elapsed">Wall time of the forwards and scoring.</param>
public sealed record PerplexityResult(long TokensScored, double MeanNll, int Windows, long TokensProcessed, TimeSpan Elapsed)
{
    /// <summary>exp(mean NLL).</summary>
    public double Perplexity => Math.Exp(MeanNll);

    /// <summary>Tokens processed per second.</summary>
    public double TokensPerSecond => TokensProcessed / Math.Max(1e-9, Elapsed.TotalSeconds);
}

/// <summary>
/// Perplexity with a sliding window, as Hugging Face's strided perplexity: windows of at most
/// <c>context</c> tokens start every <c>stride</c> tokens; each window scores only the targets the
/// previous window did not (its last end − previousEnd tokens), so every token after the first is scored
/// exactly once, with up to context − stride tokens of left context. The first window scores all its
/// tokens but the first; a token at the start of a later window has no context inside it and is not
/// scored there, so with stride = context those tokens are skipped (as in HF). NLL_t = −log softmax(logits_{t−1})[x_t],
/// float64 log-sum-exp. Works for any format the model was loaded in (dense, NF4, INT8, INT4 groups).
/// </summary>
public static class Perplexity
{
    /// <summary>Tokens per prefill chunk (bounds the logits held at once to chunk × vocab floats).</summary>
    public const int Chunk = 256;

    /// <summary>Scores <paramref name="tokens"/> with windows of <paramref name="context"/> tokens every <paramref name="stride"/> tokens.</summary>
    /// <param name="model">The model (any weight format, any device).</param>
    /// <param name="tokens">The token ids of the text (BOS included if wanted).</param>
    /// <param name="context">Window length (≤ max_position_embeddings).</param>
    /// <param name="stride">Window step, 1 … context (default: context, i.e. disjoint windows).</param>
    /// <param name="progress">Called after each window with (scored so far, tokens).</param>
    public static PerplexityResult Evaluate(LlamaModel model, IReadOnlyList<int> tokens, int context, int? stride = null, Action<long, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokens);
        int step = stride ?? context;
        if (tokens.Count < 2) throw new ArgumentException($"Perplexity needs at least two tokens, the text has {tokens.Count}.", nameof(tokens));
        if (context < 2 || context > model.Config.MaxPositionEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(context), context, $"The context must be in [2, {model.Config.MaxPositionEmbeddings}] (max_position_embeddings).");
        if (step < 1 || step > context) throw new ArgumentOutOfRangeException(nameof(stride), step, $"The stride must be in [1, context = {context}].");
        var ids = tokens.ToArray();
        model.CheckIds(ids);

        var clock = Stopwatch.StartNew();
        using var cache = model.CreateCache(context);
        double nll = 0;
        long scored = 0, processed = 0;
        int windows = 0, previousEnd = 0;
        for (int begin = 0; ; begin += step)
        {
            int end = Math.Min(begin + context, ids.Length), length = end - begin;
            int firstTarget = Math.Max(1, length - (end - previousEnd)); // index in the window of the first scored token
            cache.Clear();
            for (int c0 = 0; c0 < length; c0 += Chunk)
            {
                int n = Math.Min(Chunk, length - c0);
                using var logits = model.Forward([ids[(begin + c0)..(begin + c0 + n)]], [cache], LogitRows.All); // [n, vocab]
                if (c0 + n <= firstTarget - 1) continue; // no row here predicts a scored token
                var host = logits.ToFloatArray();
                int vocab = logits.Shape[1];
                for (int r = 0; r < n; r++)
                {
                    int target = c0 + r + 1; // row r predicts window token c0 + r + 1
                    if (target < firstTarget || target >= length) continue;
                    nll += TokenNll(host.AsSpan(r * vocab, vocab), ids[begin + target]);
                    scored++;
                }
            }
            processed += length;
            windows++;
            previousEnd = end;
            progress?.Invoke(scored, ids.Length);
            if (end == ids.Length) break;
        }
        return new PerplexityResult(scored, scored == 0 ? double.NaN : nll / scored, windows, processed, clock.Elapsed);
    }

    /// <summary>−log softmax(logits)[target] in float64.</summary>
    public static double TokenNll(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float v in logits) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        return max + Math.Log(sum) - logits[target];
    }
}
