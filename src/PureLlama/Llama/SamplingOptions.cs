namespace PureLlama.Llama;

/// <summary>
/// How to pick the next token and when to stop. Order of application (Hugging Face's): repetition
/// penalty → (greedy argmax when <see cref="Temperature"/> ≤ 0) → temperature → top-k → top-p → min-p
/// → sample from the softmax of what is left. Defaults come from generation_config.json when the
/// model folder has one (see <see cref="LlamaRuntime.DefaultSampling"/>); otherwise greedy.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Greedy decoding, 256 new tokens at most.</summary>
    public static SamplingOptions Greedy { get; } = new();

    /// <summary>Tokens to generate at most (≥ 1).</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Softmax temperature; 0 (or less) means greedy argmax.</summary>
    public float Temperature { get; init; }

    /// <summary>Keep the k most likely tokens (ties with the k-th kept); 0 = off.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches p; 1 = off.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Drop tokens whose probability is below minP × the top probability; 0 = off.</summary>
    public float MinP { get; init; }

    /// <summary>HF repetition penalty over every token seen (prompt and generated): positive logits ÷ p, negative × p; 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>OpenAI presence penalty in [−2, 2]: subtracted once from the logit of every token already generated (not the prompt); 0 = off.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>OpenAI frequency penalty in [−2, 2]: subtracted from a token's logit once per time it was generated; 0 = off.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Added to the logits of the given token ids before any other step (OpenAI's logit_bias, each in [−100, 100]); null = none.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Seed of the sampling generator; the same seed gives the same tokens. Null: a random seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Token ids that end generation (not emitted as text). Null: the model's EOS ids (config, generation_config, tokenizer).</summary>
    public IReadOnlyList<int>? StopTokenIds { get; init; }

    /// <summary>Strings that end generation when they appear in the generated text (the text before them is emitted, they are not).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>True when sampling reduces to argmax.</summary>
    public bool IsGreedy => Temperature <= 0f;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first out-of-range setting.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentException($"max_new_tokens must be at least 1, got {MaxNewTokens}.");
        if (float.IsNaN(Temperature) || float.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be a finite number, got {Temperature}.");
        if (TopK < 0) throw new ArgumentException($"top_k must be ≥ 0 (0 = off), got {TopK}.");
        if (!(TopP > 0f && TopP <= 1f)) throw new ArgumentException($"top_p must be in (0, 1], got {TopP}.");
        if (!(MinP >= 0f && MinP <= 1f)) throw new ArgumentException($"min_p must be in [0, 1], got {MinP}.");
        if (!(RepetitionPenalty > 0f) || float.IsInfinity(RepetitionPenalty)) throw new ArgumentException($"repetition_penalty must be positive, got {RepetitionPenalty}.");
        if (!(PresencePenalty >= -2f && PresencePenalty <= 2f)) throw new ArgumentException($"presence_penalty must be in [-2, 2], got {PresencePenalty}.");
        if (!(FrequencyPenalty >= -2f && FrequencyPenalty <= 2f)) throw new ArgumentException($"frequency_penalty must be in [-2, 2], got {FrequencyPenalty}.");
        if (LogitBias is not null)
            foreach (var (id, bias) in LogitBias)
            {
                if (id < 0) throw new ArgumentException($"logit_bias names token id {id}; ids are ≥ 0.");
                if (!(bias >= -100f && bias <= 100f)) throw new ArgumentException($"logit_bias of token {id} must be in [-100, 100], got {bias}.");
            }
        foreach (var s in StopStrings)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("Stop strings must not be empty.");
    }
}
