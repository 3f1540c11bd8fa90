using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// The Llama 3 decoder (3.0; 3.1 rope scaling; 3.2 tied embeddings) on one device:
/// embed_tokens → layers → norm → lm_head. One code path serves training (a full sequence through
/// <see cref="Ops"/>, autograd when grad mode is on) and inference (prefill and decode of one or
/// several sequences against their <see cref="KvCache"/>s under <see cref="GradMode.NoGrad"/>).
/// Weights keep Hugging Face names and layouts and are used as stored (F32 or BF16).
/// Owns every weight and the RoPE tables: dispose it.
/// </summary>
public sealed partial class LlamaModel : IDisposable
{
    private readonly LlamaLayer[] _layers;
    private bool _disposed;

    /// <summary>Assembles a model from its modules (ownership passes to the model).</summary>
    public LlamaModel(LlamaConfig config, Embedding embedTokens, IReadOnlyList<LlamaLayer> layers, RmsNormLayer norm, ILinear lmHead, Device device)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.CheckConsistency();
        if (layers.Count != config.NumHiddenLayers)
            throw new ArgumentException($"The model has {layers.Count} layers; config num_hidden_layers is {config.NumHiddenLayers}.");
        Config = config;
        EmbedTokens = embedTokens;
        _layers = [.. layers];
        Norm = norm;
        LmHead = lmHead;
        Device = device;
        Rope = new RopeCache(config.HeadDim, config.RopeTheta, config.RopeScaling, config.MaxPositionEmbeddings, device, frequencyFactors: config.RopeFrequencyFactors);
    }

    /// <summary>The architecture.</summary>
    public LlamaConfig Config { get; }

    /// <summary>Where weights live and compute runs.</summary>
    public Device Device { get; }

    /// <summary>model.embed_tokens: [vocab, hidden].</summary>
    public Embedding EmbedTokens { get; }

    /// <summary>model.layers.</summary>
    public IReadOnlyList<LlamaLayer> Layers => _layers;

    /// <summary>model.norm.</summary>
    public RmsNormLayer Norm { get; }

    /// <summary>lm_head: [vocab, hidden] (a second handle on embed_tokens when tied).</summary>
    public ILinear LmHead { get; internal set; }

    /// <summary>
    /// When set, each decoder layer of a forward under grad mode runs through <see cref="Checkpoint.Run"/>:
    /// only layer inputs are kept, and the backward recomputes each layer (less memory, one more forward).
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>cos/sin tables shared by every layer.</summary>
    public RopeCache Rope { get; }

    /// <summary>Vocabulary size (rows of logits).</summary>
    public int VocabSize => Config.VocabSize;

    /// <summary>Bytes of weights read per forward (embedding rows excluded unless tied to lm_head).</summary>
    public long WeightBytes
    {
        get
        {
            long sum = Norm.Weight.ByteLength;
            foreach (var l in _layers) sum += l.InputNorm.Weight.ByteLength + l.PostAttentionNorm.Weight.ByteLength;
            foreach (var (_, linear) in NamedLinears()) sum += linear.WeightBytes;
            return sum;
        }
    }

    /// <summary>
    /// A KV cache for one sequence of up to <paramref name="capacity"/> positions on this model's device,
    /// storing F32 (default; exact) or BF16 (half the memory).
    /// </summary>
    public KvCache CreateCache(int capacity, DType dtype = DType.F32)
    {
        if (capacity > Config.MaxPositionEmbeddings)
            throw new ContextLengthExceededException($"A context of {capacity} positions exceeds the model's max_position_embeddings ({Config.MaxPositionEmbeddings}).");
        return new KvCache(Config.NumHiddenLayers, Config.NumKeyValueHeads, Config.HeadDim, capacity, Device, dtype);
    }

    // ---- training / full-sequence ------------------------------------------------------------

    /// <summary>
    /// Hugging Face's <c>hidden_states</c> for ids [T]: [0] the embeddings, [i] the output of layer
    /// i−1, and the last entry the output of the final norm (HF replaces the last layer's output with
    /// it): layers + 1 tensors [T, hidden]. The caller disposes them.
    /// </summary>
    public Tensor[] HiddenStates(Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Rank != 1 || ids.DType != DType.I32) throw new ArgumentException($"ids must be I32 [T], got {ids.Describe()}.", nameof(ids));
        var hidden = new List<Tensor>();
        using var logits = Run(ids, [new SequenceSlice(0, ids.Shape[0], 0, null)], LogitRows.All, hidden);
        return [.. hidden];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        EmbedTokens.Dispose();
        foreach (var l in _layers) l.Dispose();
        Norm.Dispose();
        LmHead.Dispose();
        Rope.Dispose();
    }

    // ---- the one forward -----------------------------------------------------------------------

    // ids: I32 [N] = the new tokens of every sequence, concatenated; returns logits [rows, vocab].
    // When hidden is given it collects HF hidden_states (embeddings, each layer but the last, final norm).
    // Training callers pass explicit positions (restarting per packed example) and segment ids [N] (I32 on the device).
    // With KV caches (or a paged step) every weight product runs batch-invariant (RowInvariance) and attention reads the
    // cache through PagedAttention, so a sequence gets the same bits alone, in a batch, or in the serving engine.
    private Tensor Run(Tensor ids, IReadOnlyList<SequenceSlice> sequences, LogitRows rows, List<Tensor>? hidden,
        int[]? explicitPositions = null, Tensor? segments = null, PagedStep? paged = null, IRowLora? lora = null)
    {
        bool cached = paged is not null || sequences.Any(s => s.Cache is not null);
        if (!cached) return RunLayers(ids, sequences, rows, hidden, explicitPositions, segments, null, null, null);
        using var invariant = Kernels.Simd.RowInvariance.Enter();
        if (paged is not null) return RunLayers(ids, sequences, rows, hidden, explicitPositions, segments, null, paged, lora);
        var layouts = new List<Compute.PagedLayout>();
        try
        {
            foreach (var s in sequences)
                layouts.Add(new Compute.PagedLayout([s.Count], [s.Start + s.Count], [[0]], s.Cache!.Capacity, 1, Device));
            return RunLayers(ids, sequences, rows, hidden, explicitPositions, segments, layouts, null, lora);
        }
        finally
        {
            foreach (var l in layouts) l.Dispose();
        }
    }

    private Tensor RunLayers(Tensor ids, IReadOnlyList<SequenceSlice> sequences, LogitRows rows, List<Tensor>? hidden,
        int[]? explicitPositions, Tensor? segments, IReadOnlyList<Compute.PagedLayout>? cacheLayouts, PagedStep? paged, IRowLora? lora)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = ids.Shape[0];
        if (n == 0) throw new ArgumentException("The forward needs at least one token.", nameof(ids));
        var positionsHost = explicitPositions ?? new int[n];
        int maxPos = 0;
        if (explicitPositions is not null) foreach (int p in explicitPositions) maxPos = Math.Max(maxPos, p);
        else
            foreach (var s in sequences)
                for (int j = 0; j < s.Count; j++) { positionsHost[s.Row + j] = s.Start + j; maxPos = Math.Max(maxPos, s.Start + j); }
        Rope.Ensure(maxPos + 1);
        using var step = new Temporaries();                                           // positions live as long as a graph may
        var positions = step.Add(Tensor.FromArray(positionsHost, new Shape(n), Device)); // I32 [N]
        var ctx = new ForwardContext { Positions = positions, Rope = Rope, Sequences = sequences, Tokens = n, Segments = segments, CacheLayouts = cacheLayouts, Paged = paged, Lora = lora };

        var x = EmbedTokens.Forward(ids);                                          // [N, C]
        hidden?.Add(x);
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var next = GradientCheckpointing && hidden is null
                ? Checkpoint.Run(ReplayingBlock(layer, ctx), x)                      // [N, C], recomputed in backward
                : layer.Forward(x, ctx);                                            // [N, C]
            if (hidden is null) Temporaries.Drop(x);
            x = next;
            if (hidden is not null && l < _layers.Length - 1) hidden.Add(x);
        }
        foreach (var s in sequences) s.Cache?.Advance(s.Count);

        using var tmp = new Temporaries();
        if (hidden is null) tmp.Add(x);
        Tensor selected = rows == LogitRows.All ? x : tmp.Add(LastRows(x, sequences));  // [rows, C]
        var normed = Norm.Forward(selected);                                           // [rows, C]
        if (hidden is not null) hidden.Add(normed); else tmp.Add(normed);
        if (hidden is not null) tmp.Add(x);
        return LmHead.Forward(normed);                                                 // [rows, vocab]
    }

    // The last row of each sequence: [sequences, C].
    private static Tensor LastRows(Tensor x, IReadOnlyList<SequenceSlice> sequences)
    {
        if (sequences.Count == 1) return Ops.Slice(x, 0, sequences[0].Row + sequences[0].Count - 1, 1);
        if (GradMode.IsEnabled) throw new InvalidOperationException("A forward over several sequences is for inference: run it under GradMode.NoGrad().");
        var result = Tensor.Empty(new Shape(sequences.Count, x.Shape[1]), DType.F32, x.Device);
        for (int i = 0; i < sequences.Count; i++)
        {
            using var src = x.SliceView(0, sequences[i].Row + sequences[i].Count - 1, 1);
            using var dst = result.SliceView(0, i, 1);
            x.Backend.Copy(src, dst);
        }
        return result;
    }
}
