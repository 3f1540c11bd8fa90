using System.Runtime.CompilerServices;
using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tokenization;

namespace PureLlama.Llama;

/// <summary>
/// A loaded Llama 3 model folder in one object: weights, tokenizer (when the folder has one),
/// generation defaults, and generation. <code>
/// using var llama = LlamaRuntime.Load("Llama-3.2-1B-Instruct");
/// foreach (var t in llama.Generate("The capital of France is")) Console.Write(t.Text);
/// </code> Dispose frees the weights and every cache.
/// </summary>
public sealed class LlamaRuntime : IDisposable
{
    /// <summary>Context used when none is requested: the model's limit, capped at 8192 positions.</summary>
    public const int DefaultContextCap = 8192;

    private readonly HashSet<int> _stopIds;

    private LlamaRuntime(LlamaModel model, Llama3Tokenizer? tokenizer, GenerationConfig generation, int contextLength, string directory)
    {
        Model = model; Tokenizer = tokenizer; Generation = generation; ContextLength = contextLength; Directory = directory;
        _stopIds = [.. model.Config.EosTokenIds, .. generation.EosTokenIds];
        if (tokenizer is not null) _stopIds.UnionWith(tokenizer.StopTokenIds.Where(id => id < model.VocabSize));
        DefaultSampling = FromGenerationConfig(generation);
    }

    /// <summary>
    /// Loads a Hugging Face model folder (config.json, model.safetensors or shards, and when present
    /// tokenizer.json, tokenizer_config.json, generation_config.json), or a llama.cpp GGUF file.
    /// </summary>
    /// <param name="directory">The model folder, or the path of a .gguf file.</param>
    /// <param name="device">Where to compute (default: <see cref="Backends.DefaultDevice"/>).</param>
    /// <param name="loading">Copied into anonymous memory (default; decodes faster) or memory-mapped.</param>
    /// <param name="contextLength">Positions per sequence (default: max_position_embeddings capped at 8192).</param>
    /// <param name="quantize">Quantize the projections of a dense checkpoint while loading (NF4 or INT8; see
    /// <see cref="LlamaModel.Load(HfCheckpoint, LlamaConfig, Device, QuantizationConfig?, bool)"/>). A folder written by
    /// <c>purellama quantize</c> (or transformers + bitsandbytes) loads quantized without it.</param>
    public static LlamaRuntime Load(string directory, Device? device = null, WeightLoading loading = WeightLoading.Copied, int? contextLength = null,
        QuantizationConfig? quantize = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dev = device ?? Backends.DefaultDevice();
        using var weights = Kernels.Simd.HugePages.ForWeights();   // what is allocated while loading is the model
        if (File.Exists(directory)) return LoadGguf(directory, dev, loading, contextLength, quantize);
        // Quantizing a dense checkpoint on load maps it and reads one weight at a time (never the whole dense model in memory).
        string configPath = System.IO.Path.Combine(directory, "config.json");
        bool onTheFly = quantize is not null && File.Exists(configPath) && QuantizationConfig.FromConfigFile(configPath) is null;
        using var checkpoint = HfCheckpoint.Open(directory, onTheFly ? WeightLoading.Mapped : loading);
        var config = LlamaConfig.FromFile(checkpoint.ConfigPath);
        var generation = GenerationConfig.FromCheckpoint(checkpoint);
        int context = contextLength ?? Math.Min(config.MaxPositionEmbeddings, DefaultContextCap);
        if (context < 2 || context > config.MaxPositionEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(contextLength), context, $"The context must be in [2, {config.MaxPositionEmbeddings}] (max_position_embeddings).");
        var tokenizer = checkpoint.TokenizerPath is { } tok ? Llama3Tokenizer.Load(tok) : null;
        var model = LlamaModel.Load(checkpoint, config, dev, quantize, copyKeptWeights: onTheFly && loading == WeightLoading.Copied);
        return new LlamaRuntime(model, tokenizer, generation, context, checkpoint.Directory);
    }

    /// <summary>The architecture of a model folder (its config.json) or of a GGUF file (its llama.* metadata), without loading weights.</summary>
    public static LlamaConfig ReadConfig(string modelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        if (!File.Exists(modelPath)) return LlamaConfig.FromFile(System.IO.Path.Combine(modelPath, "config.json"));
        using var file = IO.Gguf.GgufFile.Open(modelPath, WeightLoading.Mapped);
        return GgufModelLoader.ReadConfig(file);
    }

    // A llama.cpp GGUF file: config, tokenizer and chat template from its metadata; generation defaults are greedy.
    private static LlamaRuntime LoadGguf(string path, Device device, WeightLoading loading, int? contextLength, QuantizationConfig? quantize)
    {
        if (!IO.Gguf.GgufFile.IsGguf(path))
            throw new InvalidDataException($"'{path}' is a file but not a GGUF file; --model takes a Hugging Face model folder or a .gguf file.");
        var (model, tokenizer) = GgufModelLoader.Load(path, device, loading, quantize);
        try
        {
            int context = contextLength ?? Math.Min(model.Config.MaxPositionEmbeddings, DefaultContextCap);
            if (context < 2 || context > model.Config.MaxPositionEmbeddings)
                throw new ArgumentOutOfRangeException(nameof(contextLength), context, $"The context must be in [2, {model.Config.MaxPositionEmbeddings}] (llama.context_length).");
            return new LlamaRuntime(model, tokenizer, GenerationConfig.Default, context, path);
        }
        catch { model.Dispose(); throw; }
    }

    /// <summary>Wraps an already built model (tests, tools); the runtime takes ownership of it.</summary>
    public static LlamaRuntime FromModel(LlamaModel model, Llama3Tokenizer? tokenizer = null, GenerationConfig? generation = null, int? contextLength = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        int context = contextLength ?? Math.Min(model.Config.MaxPositionEmbeddings, DefaultContextCap);
        return new LlamaRuntime(model, tokenizer, generation ?? GenerationConfig.Default, context, "");
    }

    /// <summary>The model folder ("" when built in memory).</summary>
    public string Directory { get; }
    /// <summary>The decoder.</summary>
    public LlamaModel Model { get; }
    /// <summary>The architecture.</summary>
    public LlamaConfig Config => Model.Config;
    /// <summary>The tokenizer, or null when the folder has no tokenizer.json (use token ids).</summary>
    public Llama3Tokenizer? Tokenizer { get; }
    /// <summary>generation_config.json (or the defaults).</summary>
    public GenerationConfig Generation { get; }
    /// <summary>Sampling defaults from generation_config.json: greedy unless do_sample is true.</summary>
    public SamplingOptions DefaultSampling { get; }
    /// <summary>Positions per sequence (KV cache capacity).</summary>
    public int ContextLength { get; }
    /// <summary>Ids that end generation: config and generation_config eos ids, and the tokenizer's end-of-turn tokens.</summary>
    public IReadOnlyCollection<int> StopTokenIds => _stopIds;
    /// <summary>Element type of the KV caches this runtime creates: F32 (default, exact) or BF16 (half the memory).</summary>
    public DType KvCacheDType
    {
        get => _kvCacheDType;
        set => _kvCacheDType = value is DType.F32 or DType.BF16 ? value : throw new ArgumentException($"A KV cache stores F32 or BF16, not {value}.", nameof(value));
    }
    private DType _kvCacheDType = DType.F32;

    /// <summary>Statistics of the last finished (or stopped) generation.</summary>
    public GenerationStats? LastStats { get; private set; }

    /// <summary>Encodes text with BOS prepended (unless the text starts with it); needs a tokenizer.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tok = RequireTokenizer();
        if (text.Length == 0) throw new ArgumentException("The prompt is empty.", nameof(text));
        bool hasBos = tok.BosToken is { } b && text.StartsWith(b, StringComparison.Ordinal);
        return tok.Encode(text, addBos: !hasBos && tok.BosId is not null);
    }

    /// <summary>Streams the continuation of a text prompt (BOS added). Options default to <see cref="DefaultSampling"/>.</summary>
    public IEnumerable<GeneratedToken> Generate(string prompt, SamplingOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (prompt.Length == 0) throw new ArgumentException("The prompt is empty.", nameof(prompt));
        return Generate(Encode(prompt), options, cancellation);
    }

    /// <summary>Streams the continuation of prompt token ids (used as given: add BOS yourself).</summary>
    public IEnumerable<GeneratedToken> Generate(int[] promptIds, SamplingOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        var opts = options ?? DefaultSampling;
        opts.Validate();
        if (promptIds.Length == 0) throw new ArgumentException("The prompt is empty: give at least one token.", nameof(promptIds));
        if (promptIds.Length >= ContextLength)
            throw new ContextLengthExceededException($"The prompt has {promptIds.Length} tokens; the context holds {ContextLength} positions, leaving no room to generate.");
        Model.CheckIds(promptIds);
        return Stream(promptIds, opts, cancellation);
    }

    private IEnumerable<GeneratedToken> Stream(int[] promptIds, SamplingOptions opts, CancellationToken cancellation)
    {
        var stats = new GenerationStats();
        using var cache = Model.CreateCache((int)Math.Min(ContextLength, (long)promptIds.Length + opts.MaxNewTokens), KvCacheDType);
        try
        {
            foreach (var t in Generator.Run(Model, cache, promptIds, opts, StopIdsFor(opts), Tokenizer, stats, cancellation: cancellation))
                yield return t;
        }
        finally
        {
            if (stats.StopReason == StopReason.None) stats.StopReason = StopReason.Cancelled;
            stats.PeakWorkingSetBytes = Math.Max(stats.PeakWorkingSetBytes, System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64);
            LastStats = stats;
        }
    }

    /// <summary>
    /// Asynchronous streaming of <see cref="Generate(string, SamplingOptions?, CancellationToken)"/>; each step runs on the thread pool.
    /// Cancelling <paramref name="cancellation"/> ends the stream with <see cref="OperationCanceledException"/>, as .NET async streams do
    /// (the synchronous <c>Generate</c> just stops, with <see cref="StopReason.Cancelled"/> in <see cref="LastStats"/>).
    /// </summary>
    public IAsyncEnumerable<GeneratedToken> GenerateAsync(string prompt, SamplingOptions? options = null, CancellationToken cancellation = default)
        => ToAsync(Generate(prompt, options, cancellation), cancellation);

    /// <summary>Asynchronous streaming of <see cref="Generate(int[], SamplingOptions?, CancellationToken)"/>; cancelling throws <see cref="OperationCanceledException"/>.</summary>
    public IAsyncEnumerable<GeneratedToken> GenerateAsync(int[] promptIds, SamplingOptions? options = null, CancellationToken cancellation = default)
        => ToAsync(Generate(promptIds, options, cancellation), cancellation);

    private static async IAsyncEnumerable<GeneratedToken> ToAsync(IEnumerable<GeneratedToken> tokens, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        using var e = tokens.GetEnumerator();
        while (await Task.Run(e.MoveNext, cancellation).ConfigureAwait(false))
        {
            cancellation.ThrowIfCancellationRequested();
            yield return e.Current;
        }
        cancellation.ThrowIfCancellationRequested(); // the generator stops quietly when cancelled; the async stream throws
    }

    /// <summary>Greedy/sampled generation for several prompts in one batch (see <see cref="Generator.RunBatch"/>).</summary>
    public int[][] GenerateBatch(IReadOnlyList<int[]> prompts, SamplingOptions? options = null)
    {
        var opts = options ?? DefaultSampling;
        var stats = new GenerationStats();
        var result = Generator.RunBatch(Model, prompts, opts, StopIdsFor(opts), ContextLength, stats, KvCacheDType);
        LastStats = stats;
        return result;
    }

    /// <summary>Logits of every position of <paramref name="ids"/>: [T, vocab] row-major.</summary>
    public float[] Logits(int[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Length == 0) throw new ArgumentException("No token ids were given.", nameof(ids));
        if (ids.Length > Config.MaxPositionEmbeddings)
            throw new ContextLengthExceededException($"{ids.Length} tokens exceed max_position_embeddings ({Config.MaxPositionEmbeddings}).");
        Model.CheckIds(ids);
        using var _ = GradMode.NoGrad();
        using var t = Tensor.FromArray(ids, new Shape(ids.Length), Model.Device);
        using var logits = Model.Forward(t);
        return logits.ToFloatArray();
    }

    /// <summary>A multi-turn chat whose history stays in one KV cache (dispose it).</summary>
    public LlamaChat StartChat(string? system = null) => new(this, system);

    internal IReadOnlyCollection<int> StopIdsFor(SamplingOptions o) => o.StopTokenIds is { } ids ? [.. ids] : _stopIds;

    internal Llama3Tokenizer RequireTokenizer() =>
        Tokenizer ?? throw new InvalidOperationException($"The model folder '{Directory}' has no tokenizer.json: pass token ids instead of text.");

    /// <summary>SamplingOptions from a generation_config: greedy unless do_sample; HF's top_k default 50 applies only when sampling.</summary>
    public static SamplingOptions FromGenerationConfig(GenerationConfig g)
    {
        ArgumentNullException.ThrowIfNull(g);
        var o = new SamplingOptions
        {
            MaxNewTokens = g.MaxNewTokens ?? SamplingOptions.Greedy.MaxNewTokens,
            RepetitionPenalty = (float)g.RepetitionPenalty,
        };
        if (!g.DoSample) return o;
        return o with { Temperature = (float)g.Temperature, TopK = g.TopK, TopP = (float)g.TopP, MinP = (float)(g.MinP ?? 0) };
    }

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}
