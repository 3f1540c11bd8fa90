using PureLlama.IO;

namespace PureLlama.Llama;

/// <summary>
/// Default generation settings from a Hugging Face <c>generation_config.json</c>. Fields the file
/// omits take transformers' defaults (greedy, temperature 1, top-k 50, top-p 1, repetition penalty
/// 1); limits it omits stay null. Values out of range raise <see cref="InvalidDataException"/>
/// naming the field and file.
/// </summary>
public sealed record GenerationConfig
{
    /// <summary>do_sample: false means greedy decoding.</summary>
    public bool DoSample { get; init; }
    /// <summary>temperature (≥ 0).</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>top_k (0 disables).</summary>
    public int TopK { get; init; } = 50;
    /// <summary>top_p in (0, 1] (1 disables).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>min_p in [0, 1], or null when not set.</summary>
    public double? MinP { get; init; }
    /// <summary>repetition_penalty (&gt; 0; 1 disables).</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>max_new_tokens, or null when not set.</summary>
    public int? MaxNewTokens { get; init; }
    /// <summary>max_length (prompt plus new tokens), or null when not set.</summary>
    public int? MaxLength { get; init; }
    /// <summary>eos_token_id as a list (empty when absent): generation stops at any of them.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>bos_token_id, or null.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>pad_token_id, or null.</summary>
    public int? PadTokenId { get; init; }

    /// <summary>transformers' defaults (greedy).</summary>
    public static GenerationConfig Default { get; } = new();

    /// <summary>Reads a <c>generation_config.json</c>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A field has a wrong value (the message names it and the file).</exception>
    public static GenerationConfig FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Generation config '{path}' does not exist.", path);
        return Parse(StrictJson.ReadText(path), path);
    }

    /// <summary>Parses generation_config.json text; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">A field has a wrong value.</exception>
    public static GenerationConfig Parse(string json, string source = "generation_config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = JsonConfigReader.ParseDocument(json, source);
        var r = new JsonConfigReader(doc.RootElement, source);
        int[] pad = r.IdList("pad_token_id");
        return new GenerationConfig
        {
            DoSample = r.OptionalBool("do_sample") ?? false,
            Temperature = r.OptionalDouble("temperature", 0, double.PositiveInfinity) ?? 1.0,
            TopK = r.OptionalInt("top_k", 0) ?? 50,
            TopP = r.OptionalDouble("top_p", 0, 1, minExclusive: true) ?? 1.0,
            MinP = r.OptionalDouble("min_p", 0, 1),
            RepetitionPenalty = r.OptionalDouble("repetition_penalty", 0, double.PositiveInfinity, minExclusive: true) ?? 1.0,
            MaxNewTokens = r.OptionalInt("max_new_tokens", 1),
            MaxLength = r.OptionalInt("max_length", 1),
            EosTokenIds = r.IdList("eos_token_id"),
            BosTokenId = r.OptionalInt("bos_token_id", 0),
            PadTokenId = pad.Length > 0 ? pad[0] : null,
        };
    }

    /// <summary>The file in <paramref name="checkpoint"/>'s folder, or <see cref="Default"/> when it has none.</summary>
    public static GenerationConfig FromCheckpoint(HfCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return checkpoint.GenerationConfigPath is string p ? FromFile(p) : Default;
    }
}
