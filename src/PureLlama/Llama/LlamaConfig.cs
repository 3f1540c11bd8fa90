using PureLlama.IO;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>The name and shape of one tensor a checkpoint must hold (Hugging Face naming and layout).</summary>
/// <param name="Name">E.g. <c>model.layers.0.self_attn.q_proj.weight</c>.</param>
/// <param name="Shape">E.g. <c>[heads·head_dim, hidden]</c> for q_proj (Linear weights are <c>[out, in]</c>).</param>
public readonly record struct TensorSpec(string Name, Shape Shape);

/// <summary>
/// The architecture of a Llama 3.x model, read from a Hugging Face <c>config.json</c>
/// (<c>LlamaForCausalLM</c>, <c>model_type: llama</c>) or built in code. Covers Llama 3.0, 3.1
/// (<c>rope_scaling</c> of type <c>llama3</c>) and 3.2 (tied embeddings). Values are checked on parse
/// and by <see cref="CheckConsistency"/>; a wrong one raises <see cref="InvalidDataException"/> naming the field.
/// </summary>
public sealed record LlamaConfig
{
    /// <summary>The most layers a config may declare (405B has 126).</summary>
    public const int MaxLayers = 1024;
    /// <summary>The widest hidden_size accepted (intermediate_size: 16 times this).</summary>
    public const int MaxWidth = 1 << 16;
    /// <summary>The most attention heads, and the largest head_dim, accepted.</summary>
    public const int MaxHeads = 1024;
    private const double MinF32Normal = 1.1754943508222875e-38; // the smallest normal F32

    /// <summary>The largest vocabulary accepted.</summary>
    public const int MaxVocab = 1 << 24;

    /// <summary>vocab_size: rows of the embedding and of lm_head.</summary>
    public required int VocabSize { get; init; }
    /// <summary>hidden_size: the model width.</summary>
    public required int HiddenSize { get; init; }
    /// <summary>intermediate_size: the gated MLP width.</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>num_hidden_layers.</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary>num_attention_heads (query heads).</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary>num_key_value_heads (GQA; equals the query heads when absent from the file).</summary>
    public required int NumKeyValueHeads { get; init; }
    /// <summary>head_dim (hidden_size / num_attention_heads when absent from the file).</summary>
    public required int HeadDim { get; init; }
    /// <summary>rms_norm_eps (transformers' default 1e-6 when absent).</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>rope_theta (transformers' default 10000 when absent).</summary>
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>rope_scaling of type llama3 (Llama 3.1+), or null for plain RoPE.</summary>
    public Llama3RopeScaling? RopeScaling { get; init; }
    /// <summary>
    /// Per-frequency RoPE divisors [head_dim/2] (a GGUF file's <c>rope_freqs.weight</c>: frequency i is θ^(−2i/head_dim) / factor[i]),
    /// used instead of <see cref="RopeScaling"/>; null for none.
    /// </summary>
    public IReadOnlyList<float>? RopeFrequencyFactors { get; init; }
    /// <summary>tie_word_embeddings: lm_head reuses model.embed_tokens.weight (Llama 3.2 1B/3B).</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>max_position_embeddings: the longest context the model was trained for (default 2048).</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;
    /// <summary>bos_token_id, or null.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>eos_token_id as a list (a single number in the file becomes a one-element list; empty when absent).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    /// <summary>hidden_act (or hidden_activation): the MLP gate's activation f in down(f(gate)·up); SiLU (SwiGLU) when absent.</summary>
    public UnaryOp HiddenActivation { get; init; } = UnaryOp.Silu;
    /// <summary>torch_dtype (or dtype) as written: float32, bfloat16, float16; null when absent.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>The weight dtype named by <see cref="TorchDtype"/>, or null when absent.</summary>
    public DType? WeightDType => TorchDtype switch
    {
        "float32" => DType.F32,
        "bfloat16" => DType.BF16,
        "float16" => DType.F16,
        _ => null,
    };

    /// <summary>Query width: heads · head_dim.</summary>
    public int QueryDim => NumAttentionHeads * HeadDim;
    /// <summary>Key/value width: kv_heads · head_dim.</summary>
    public int KeyValueDim => NumKeyValueHeads * HeadDim;
    /// <summary>Query heads per key/value head.</summary>
    public int GroupSize => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>Reads and checks a <c>config.json</c>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A field is missing, wrong, unsupported or inconsistent (the message names it and the file).</exception>
    public static LlamaConfig FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config '{path}' does not exist.", path);
        return Parse(StrictJson.ReadText(path), path);
    }

    /// <summary>Reads the checkpoint's <c>config.json</c> and, when <paramref name="validate"/>, checks the weights against it (<see cref="Validate"/>).</summary>
    /// <exception cref="InvalidDataException">The config is wrong or the weights do not match it.</exception>
    public static LlamaConfig FromCheckpoint(HfCheckpoint checkpoint, bool validate = true)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var config = FromFile(checkpoint.ConfigPath);
        if (validate) config.Validate(checkpoint);
        return config;
    }

    /// <summary>Parses config.json text; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="InvalidDataException">A field is missing, wrong, unsupported or inconsistent.</exception>
    public static LlamaConfig Parse(string json, string source = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = JsonConfigReader.ParseDocument(json, source);
        var r = new JsonConfigReader(doc.RootElement, source);

        string? modelType = r.OptionalString("model_type");
        if (modelType is not null && modelType != "llama")
            throw r.Error("model_type", $"is '{modelType}'; PureLlama reads Llama models ('llama').");
        if (r.TryGet("architectures", out var arch))
        {
            if (arch.ValueKind != System.Text.Json.JsonValueKind.Array || arch.EnumerateArray().Any(a => a.ValueKind != System.Text.Json.JsonValueKind.String))
                throw r.Error("architectures", $"is {arch.GetRawText()}; expected a list of class names.");
            var names = arch.EnumerateArray().Select(a => a.GetString()!).ToArray();
            if (names.Length > 0 && !names.Contains("LlamaForCausalLM"))
                throw r.Error("architectures", $"is [{string.Join(", ", names)}]; PureLlama reads LlamaForCausalLM.");
        }
        // Gemma-style configs name the MLP activation hidden_activation (it wins over hidden_act there).
        string actField = r.TryGet("hidden_activation", out _) ? "hidden_activation" : "hidden_act";
        string? act = r.OptionalString(actField);
        var activation = act is null ? UnaryOp.Silu : UnaryOp.FromConfigName(act)
            ?? throw r.Error(actField, $"is '{act}'; PureLlama supports {string.Join(", ", UnaryOp.All.SelectMany(o => o.ConfigNames).Select(n => $"'{n}'"))}.");
        if (r.OptionalBool("attention_bias") == true)
            throw r.Error("attention_bias", "is true; Llama attention has no biases and PureLlama does not support them.");
        if (r.OptionalBool("mlp_bias") == true)
            throw r.Error("mlp_bias", "is true; the Llama MLP has no biases and PureLlama does not support them.");
        int? tp = r.OptionalInt("pretraining_tp", 1);
        _ = tp; // transformers' tensor-parallel emulation; the weights are the same whatever its value.

        int hidden = r.RequiredInt("hidden_size", 1);
        int heads = r.RequiredInt("num_attention_heads", 1);
        int? headDim = r.OptionalInt("head_dim", 1);
        if (headDim is null && hidden % heads != 0)
            throw r.Error("num_attention_heads", $"is {heads}, which does not divide hidden_size {hidden} (and no head_dim is given).");
        int kvHeads = r.OptionalInt("num_key_value_heads", 1) ?? heads;
        if (heads % kvHeads != 0)
            throw r.Error("num_key_value_heads", $"is {kvHeads}, which does not divide num_attention_heads {heads}.");
        string? dtype = r.OptionalString("torch_dtype") ?? r.OptionalString("dtype");
        if (dtype is not null && dtype is not ("float32" or "bfloat16" or "float16"))
            throw r.Error(r.TryGet("torch_dtype", out _) ? "torch_dtype" : "dtype", $"is '{dtype}'; expected float32, bfloat16 or float16.");

        var config = new LlamaConfig
        {
            VocabSize = r.RequiredInt("vocab_size", 1),
            HiddenSize = hidden,
            IntermediateSize = r.RequiredInt("intermediate_size", 1),
            NumHiddenLayers = r.RequiredInt("num_hidden_layers", 1),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim ?? hidden / heads,
            RmsNormEps = r.OptionalDouble("rms_norm_eps", 0, 1, minExclusive: true) ?? 1e-6,
            RopeTheta = r.OptionalDouble("rope_theta", 0, double.PositiveInfinity, minExclusive: true) ?? 10000.0,
            RopeScaling = ParseRopeScaling(r),
            TieWordEmbeddings = r.OptionalBool("tie_word_embeddings") ?? false,
            MaxPositionEmbeddings = r.OptionalInt("max_position_embeddings", 1) ?? 2048,
            BosTokenId = r.OptionalInt("bos_token_id", 0),
            EosTokenIds = r.IdList("eos_token_id"),
            TorchDtype = dtype,
            HiddenActivation = activation,
        };
        config.CheckConsistency(source);
        return config;
    }

    private static Llama3RopeScaling? ParseRopeScaling(JsonConfigReader r)
    {
        const string field = "rope_scaling";
        if (!r.TryGet(field, out var rs)) return null;
        if (rs.ValueKind != System.Text.Json.JsonValueKind.Object)
            throw r.Error(field, $"is {rs.GetRawText()}; expected null or an object.");
        var sub = new JsonConfigReader(rs, r.Source);
        string? type = sub.OptionalString("rope_type") ?? sub.OptionalString("type");
        if (type is null) throw r.Error(field, "has neither 'rope_type' nor 'type'.");
        if (type == "default") return null;
        if (type != "llama3")
            throw r.Error(field, $"has unsupported rope_scaling type '{type}'; PureLlama supports 'llama3' (Llama 3.1+) and none.");
        double Need(string name, double min)
            => sub.TryGet(name, out var v) ? sub.AsDouble($"{field}.{name}", v, min, double.PositiveInfinity, minExclusive: true)
                                           : throw r.Error($"{field}.{name}", "is required for rope_scaling type 'llama3' but missing.");
        double factor = Need("factor", 0);
        double low = Need("low_freq_factor", 0);
        double high = Need("high_freq_factor", 0);
        if (!sub.TryGet("original_max_position_embeddings", out var origEl))
            throw r.Error($"{field}.original_max_position_embeddings", "is required for rope_scaling type 'llama3' but missing.");
        int orig = sub.AsInt($"{field}.original_max_position_embeddings", origEl, 1);
        if (high <= low)
            throw r.Error($"{field}.high_freq_factor", $"is {high}; it must be greater than low_freq_factor {low}.");
        return new Llama3RopeScaling(factor, low, high, orig);
    }

    /// <summary>
    /// Checks that sizes are positive and agree with each other (kv heads divide heads, head_dim even
    /// for RoPE, …); <paramref name="source"/> names the config in messages.
    /// </summary>
    /// <exception cref="InvalidDataException">A value is out of range or inconsistent.</exception>
    public void CheckConsistency(string source = "config")
    {
        InvalidDataException Bad(string field, string problem) => new($"Field '{field}' in '{source}' {problem}");
        foreach (var (field, value) in new[]
                 {
                     ("vocab_size", VocabSize), ("hidden_size", HiddenSize), ("intermediate_size", IntermediateSize),
                     ("num_hidden_layers", NumHiddenLayers), ("num_attention_heads", NumAttentionHeads),
                     ("num_key_value_heads", NumKeyValueHeads), ("head_dim", HeadDim), ("max_position_embeddings", MaxPositionEmbeddings),
                 })
            if (value <= 0) throw Bad(field, $"is {value}; it must be positive.");
        // Documented upper bounds, checked before anything is allocated from these sizes (Llama 3.1 405B:
        // 126 layers, hidden 16384, intermediate 53248, 128 heads of 128, vocabulary 128256).
        foreach (var (field, value, max) in new[]
                 {
                     ("num_hidden_layers", NumHiddenLayers, MaxLayers), ("hidden_size", HiddenSize, MaxWidth),
                     ("intermediate_size", IntermediateSize, MaxWidth * 16), ("num_attention_heads", NumAttentionHeads, MaxHeads),
                     ("head_dim", HeadDim, MaxHeads), ("vocab_size", VocabSize, MaxVocab),
                 })
            if (value > max) throw Bad(field, $"is {value}; PureLlama accepts at most {max} (a corrupt or hostile config?).");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw Bad("num_key_value_heads", $"is {NumKeyValueHeads}, which does not divide num_attention_heads {NumAttentionHeads}.");
        if (HeadDim % 2 != 0)
            throw Bad("head_dim", $"is {HeadDim}; RoPE rotates pairs of dimensions, so it must be even.");
        if ((long)NumAttentionHeads * HeadDim > int.MaxValue || (long)VocabSize * HiddenSize > int.MaxValue * 64L)
            throw Bad("hidden_size", "gives tensors larger than PureLlama supports.");
        // The kernels compute in F32: a value that is 0 or subnormal there (1e-320) would divide by zero later.
        if (!(RmsNormEps >= MinF32Normal) || !(RmsNormEps <= 1)) throw Bad("rms_norm_eps", $"is {RmsNormEps}; it must be in [{MinF32Normal}, 1].");
        if (!(RopeTheta >= 1) || !(RopeTheta <= 1e12)) throw Bad("rope_theta", $"is {RopeTheta}; it must be in [1, 1e12].");
        if (RopeScaling is { } rs)
            foreach (var (field, value) in new[] { ("factor", rs.Factor), ("low_freq_factor", rs.LowFreqFactor), ("high_freq_factor", rs.HighFreqFactor) })
                if (!(value >= 1e-6) || !(value <= 1e6)) throw Bad($"rope_scaling.{field}", $"is {value}; it must be in [1e-06, 1e6].");
        if (RopeFrequencyFactors is { } ff)
        {
            if (RopeScaling is not null) throw Bad("rope_freqs", "is given together with rope_scaling; only one may be.");
            if (ff.Count != HeadDim / 2) throw Bad("rope_freqs", $"has {ff.Count} factors; head_dim/2 = {HeadDim / 2} were expected.");
            if (ff.Any(f => !(f > 0) || !float.IsFinite(f))) throw Bad("rope_freqs", "holds a factor that is not a positive number.");
        }
        if (BosTokenId is int bos && (bos < 0 || bos >= VocabSize))
            throw Bad("bos_token_id", $"is {bos}, outside the vocabulary [0, {VocabSize}).");
        foreach (int eos in EosTokenIds)
            if (eos < 0 || eos >= VocabSize) throw Bad("eos_token_id", $"holds {eos}, outside the vocabulary [0, {VocabSize}).");
    }

    /// <summary>
    /// Every tensor a checkpoint of this architecture holds, in Hugging Face names and layouts
    /// (Linear weights <c>[out, in]</c>); <c>lm_head.weight</c> only when embeddings are not tied.
    /// </summary>
    public IReadOnlyList<TensorSpec> ExpectedTensors()
    {
        int h = HiddenSize;
        var list = new List<TensorSpec>(2 + NumHiddenLayers * 9 + 1)
        {
            new("model.embed_tokens.weight", new Shape(VocabSize, h)),          // [vocab, hidden]
        };
        for (int i = 0; i < NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            list.Add(new(p + "input_layernorm.weight", new Shape(h)));
            list.Add(new(p + "self_attn.q_proj.weight", new Shape(QueryDim, h)));      // [heads·hd, hidden]
            list.Add(new(p + "self_attn.k_proj.weight", new Shape(KeyValueDim, h)));   // [kv·hd, hidden]
            list.Add(new(p + "self_attn.v_proj.weight", new Shape(KeyValueDim, h)));   // [kv·hd, hidden]
            list.Add(new(p + "self_attn.o_proj.weight", new Shape(h, QueryDim)));      // [hidden, heads·hd]
            list.Add(new(p + "post_attention_layernorm.weight", new Shape(h)));
            list.Add(new(p + "mlp.gate_proj.weight", new Shape(IntermediateSize, h))); // [inter, hidden]
            list.Add(new(p + "mlp.up_proj.weight", new Shape(IntermediateSize, h)));   // [inter, hidden]
            list.Add(new(p + "mlp.down_proj.weight", new Shape(h, IntermediateSize))); // [hidden, inter]
        }
        list.Add(new("model.norm.weight", new Shape(h)));
        if (!TieWordEmbeddings) list.Add(new("lm_head.weight", new Shape(VocabSize, h))); // [vocab, hidden]
        return list;
    }

    /// <summary>
    /// Checks a checkpoint against this architecture: every expected tensor present, of its shape
    /// and a float dtype (F32, BF16, F16), and no unexpected tensor. All problems are reported in
    /// one message naming each tensor and its file. Tolerated: a <c>lm_head.weight</c> of the right
    /// shape beside tied embeddings, and the <c>rotary_emb.inv_freq</c> buffers old exports carry.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint does not match.</exception>
    public void Validate(HfCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var expected = ExpectedTensors();
        var expectedNames = new HashSet<string>(expected.Select(e => e.Name), StringComparer.Ordinal);
        var missing = new List<string>();
        var misShaped = new List<string>();
        var badDType = new List<string>();
        foreach (var spec in expected)
        {
            if (!checkpoint.Contains(spec.Name)) { missing.Add($"'{spec.Name}' {spec.Shape}"); continue; }
            var info = checkpoint.Info(spec.Name);
            string file = Path.GetFileName(checkpoint.FileOf(spec.Name).Path);
            if (info.Shape != spec.Shape) misShaped.Add($"'{spec.Name}' in {file} is {info.Shape}, expected {spec.Shape}");
            if (info.DType is not (DType.F32 or DType.BF16 or DType.F16)) badDType.Add($"'{spec.Name}' in {file} is {info.DTypeName}, expected F32, BF16 or F16");
        }
        var unexpected = new List<string>();
        foreach (var name in checkpoint.TensorNames)
        {
            if (expectedNames.Contains(name) || name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)) continue;
            if (name == "lm_head.weight" && TieWordEmbeddings && checkpoint.Info(name).Shape == new Shape(VocabSize, HiddenSize)) continue;
            unexpected.Add($"'{name}' {checkpoint.Info(name).Shape} in {Path.GetFileName(checkpoint.FileOf(name).Path)}");
        }
        if (missing.Count + misShaped.Count + badDType.Count + unexpected.Count == 0) return;

        var parts = new List<string>();
        static string Join(List<string> items) => string.Join("; ", items.Take(24)) + (items.Count > 24 ? $"; and {items.Count - 24} more" : "");
        if (misShaped.Count > 0) parts.Add($"{misShaped.Count} mis-shaped: {Join(misShaped)}");
        if (missing.Count > 0) parts.Add($"{missing.Count} missing: {Join(missing)}");
        if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected: {Join(unexpected)}");
        if (badDType.Count > 0) parts.Add($"{badDType.Count} of a wrong dtype: {Join(badDType)}");
        throw new InvalidDataException(
            $"The weights in '{checkpoint.Directory}' do not match its config ({DescribeShape()}): {string.Join(". ", parts)}.");
    }

    /// <summary>One-line summary: layers, width, heads, vocabulary.</summary>
    public string DescribeShape()
        => $"{NumHiddenLayers} layers, hidden {HiddenSize}, intermediate {IntermediateSize}, {NumAttentionHeads} heads / {NumKeyValueHeads} kv heads of {HeadDim}, vocab {VocabSize}{(TieWordEmbeddings ? ", tied embeddings" : "")}";
}
