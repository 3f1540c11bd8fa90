using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// Picks the next token from a row of logits [vocab] on the host, with Hugging Face semantics
/// (see <see cref="SamplingOptions"/> for the order): logit bias, repetition penalty, presence and frequency
/// penalties, then temperature, top-k, top-p, min-p. Tracks which tokens were seen (prompt and generated) for the
/// repetition penalty and how often each was generated for the presence and frequency penalties. Seeded: the same seed, logits and history give the same tokens.
/// Not thread-safe; one per sequence.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Rng _rng;
    private readonly bool[] _seen;          // [vocab]
    private readonly List<int> _seenList = [];
    private readonly int[]? _generatedCount;     // [vocab], only when a presence or frequency penalty is set
    private readonly List<int> _generatedList = [];

    /// <summary>Creates a sampler over a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public Sampler(SamplingOptions options, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "Vocabulary size must be positive.");
        _options = options;
        VocabSize = vocabSize;
        _rng = new Rng(options.Seed ?? (ulong)Random.Shared.NextInt64());
        _seen = new bool[vocabSize];
        if (options.LogitBias is { } bias)
            foreach (int id in bias.Keys)
                if (id >= vocabSize) throw new ArgumentException($"logit_bias names token id {id}; the vocabulary has {vocabSize} tokens.", nameof(options));
        if (options.PresencePenalty != 0f || options.FrequencyPenalty != 0f) _generatedCount = new int[vocabSize];
    }

    /// <summary>Size of a logits row.</summary>
    public int VocabSize { get; }

    /// <summary>Records tokens as seen (prompt and generated) for the repetition penalty.</summary>
    public void Observe(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids) Observe(id);
    }

    /// <summary>Records one token as seen.</summary>
    public void Observe(int id)
    {
        if ((uint)id >= (uint)VocabSize) throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id outside the vocabulary [0, {VocabSize}).");
        if (_seen[id]) return;
        _seen[id] = true;
        _seenList.Add(id);
    }

    /// <summary>
    /// Chooses a token from <paramref name="logits"/> [vocab] (modified in place: penalised, scaled,
    /// masked with −∞) and records it as seen.
    /// </summary>
    public int Sample(Span<float> logits)
    {
        if (logits.Length != VocabSize) throw new ArgumentException($"Logits row has {logits.Length} entries; the vocabulary has {VocabSize}.", nameof(logits));
        for (int i = 0; i < logits.Length; i++)
            if (float.IsNaN(logits[i])) throw new InvalidOperationException($"Logit {i} is NaN: the forward pass produced invalid numbers.");
        if (_options.LogitBias is { } bias) ApplyLogitBias(logits, bias);
        ApplyRepetitionPenalty(logits, _seenList, _options.RepetitionPenalty);
        if (_generatedCount is { } counts) ApplyPresenceAndFrequencyPenalties(logits, _generatedList, counts, _options.PresencePenalty, _options.FrequencyPenalty);
        int id;
        if (_options.IsGreedy) id = ArgMax(logits);
        else
        {
            float invT = 1f / _options.Temperature;
            for (int i = 0; i < logits.Length; i++) logits[i] *= invT;
            if (_options.TopK > 0) ApplyTopK(logits, _options.TopK);
            if (_options.TopP < 1f) ApplyTopP(logits, _options.TopP);
            if (_options.MinP > 0f) ApplyMinP(logits, _options.MinP);
            id = Draw(logits, _rng.NextDouble());
        }
        Observe(id);
        if (_generatedCount is { } generated && generated[id]++ == 0) _generatedList.Add(id);
        return id;
    }

    // ---- the steps, public for tests and other decoders --------------------------------------

    /// <summary>HF repetition penalty: for each seen id, logit ÷ penalty when positive, × penalty otherwise.</summary>
    public static void ApplyRepetitionPenalty(Span<float> logits, IReadOnlyList<int> seen, float penalty)
    {
        if (penalty == 1f) return;
        foreach (int id in seen)
        {
            float l = logits[id];
            logits[id] = l > 0 ? l / penalty : l * penalty;
        }
    }

    /// <summary>OpenAI logit_bias: each listed token's logit + its bias.</summary>
    public static void ApplyLogitBias(Span<float> logits, IReadOnlyDictionary<int, float> bias)
    {
        foreach (var (id, b) in bias) logits[id] += b;
    }

    /// <summary>
    /// OpenAI presence and frequency penalties over the generated tokens: logit[j] − count[j]·frequency − (count[j] &gt; 0)·presence,
    /// for each distinct generated id j in <paramref name="generated"/> with <paramref name="counts"/>[j] occurrences.
    /// </summary>
    public static void ApplyPresenceAndFrequencyPenalties(Span<float> logits, IReadOnlyList<int> generated, ReadOnlySpan<int> counts, float presence, float frequency)
    {
        foreach (int id in generated) logits[id] -= counts[id] * frequency + presence;
    }

    /// <summary>Index of the largest logit (the first one on ties); NaN logits are an error.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = -1;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (float.IsNaN(l)) throw new InvalidOperationException($"Logit {i} is NaN: the forward pass produced invalid numbers.");
            if (best < 0 || l > bestValue) { best = i; bestValue = l; }
        }
        return best;
    }

    /// <summary>Masks (−∞) every logit below the k-th largest; ties with the k-th are kept (HF).</summary>
    public static void ApplyTopK(Span<float> logits, int k)
    {
        if (k <= 0 || k >= logits.Length) return;
        var copy = logits.ToArray();
        // k-th largest = element at index (n − k) of the ascending order.
        float threshold = NthSmallest(copy, copy.Length - k);
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] < threshold) logits[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// HF top-p: in ascending order of logit, mask tokens whose cumulative probability (from the
    /// least likely up to and including them) is ≤ 1 − p; the most likely token always stays.
    /// </summary>
    public static void ApplyTopP(Span<float> logits, float p)
    {
        if (p >= 1f) return;
        var (ids, probs) = Candidates(logits);
        // ids/probs come ascending by probability (ties in id order), so runs repeat exactly
        double cumulative = 0;
        double limit = 1.0 - p;
        for (int i = 0; i < ids.Length - 1; i++)
        {
            cumulative += probs[i];
            if (cumulative <= limit) logits[ids[i]] = float.NegativeInfinity;
            else break;
        }
    }

    /// <summary>HF min-p: mask tokens whose probability is below minP × the largest probability.</summary>
    public static void ApplyMinP(Span<float> logits, float minP)
    {
        if (minP <= 0f) return;
        float max = float.NegativeInfinity;
        foreach (float l in logits) max = MathF.Max(max, l);
        // p_i < minP · p_max  ⇔  l_i − l_max < ln(minP)
        double cut = Math.Log(minP);
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] - max < cut) logits[i] = float.NegativeInfinity;
    }

    /// <summary>Samples from softmax(logits) using one uniform draw u ∈ [0, 1); −∞ entries are never chosen.</summary>
    public static int Draw(ReadOnlySpan<float> logits, double u)
    {
        float max = float.NegativeInfinity;
        int last = -1;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNaN(logits[i])) throw new InvalidOperationException($"Logit {i} is NaN: the forward pass produced invalid numbers.");
            if (logits[i] > max) max = logits[i];
        }
        if (float.IsNegativeInfinity(max)) throw new InvalidOperationException("Every token was masked; nothing can be sampled.");
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
            if (!float.IsNegativeInfinity(logits[i])) total += Math.Exp(logits[i] - max);
        double target = u * total, running = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNegativeInfinity(logits[i])) continue;
            running += Math.Exp(logits[i] - max);
            last = i;
            if (running > target) return i;
        }
        return last;
    }

    // Surviving (finite) candidates with their softmax probabilities, in id order.
    private static (int[] Ids, double[] Probs) Candidates(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        int count = 0;
        foreach (float l in logits)
            if (!float.IsNegativeInfinity(l)) { count++; max = MathF.Max(max, l); }
        var ids = new int[count];
        var probs = new double[count];
        double total = 0;
        for (int i = 0, j = 0; i < logits.Length; i++)
        {
            if (float.IsNegativeInfinity(logits[i])) continue;
            ids[j] = i;
            probs[j] = Math.Exp(logits[i] - max);
            total += probs[j++];
        }
        for (int j = 0; j < count; j++) probs[j] /= total;
        // Sort needs keys that are ascending by logit: probs are monotone in the logit, but keep
        // equal probabilities in id order by sorting (prob, id) pairs.
        var keys = new (double P, int Id)[count];
        for (int j = 0; j < count; j++) keys[j] = (probs[j], ids[j]);
        Array.Sort(keys);
        for (int j = 0; j < count; j++) { probs[j] = keys[j].P; ids[j] = keys[j].Id; }
        return (ids, probs);
    }

    // Quickselect: the value that would sit at index n in ascending order (array is reordered).
    private static float NthSmallest(float[] a, int n)
    {
        int lo = 0, hi = a.Length - 1;
        while (lo < hi)
        {
            float pivot = a[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) { (a[i], a[j]) = (a[j], a[i]); i++; j--; }
            }
            if (n <= j) hi = j;
            else if (n >= i) lo = i;
            else return a[n];
        }
        return a[n];
    }
}
