using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>
    /// The training (full-sequence) forward: ids I32 [T] → logits [T, vocab], differentiable when grad mode is on,
    /// no cache. Positions default to 0..T−1; a row that packs several examples passes explicit
    /// <paramref name="positions"/> [T] (restarting at 0 for each packed example) and <paramref name="segments"/> [T]
    /// (example index of each token; a token attends only to earlier tokens of its own segment). A micro-batch of
    /// several sequences is run as one such row (one matmul per weight), which gives the same result as running
    /// them one by one.
    /// </summary>
    public Tensor Forward(Tensor ids, int[]? positions = null, int[]? segments = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Rank != 1 || ids.DType != DType.I32) throw new ArgumentException($"ids must be I32 [T], got {ids.Describe()}.", nameof(ids));
        int n = ids.Shape[0];
        if (positions is null && segments is null) return Run(ids, [new SequenceSlice(0, n, 0, null)], LogitRows.All, hidden: null);
        positions ??= [.. Enumerable.Range(0, n)];
        if (positions.Length != n) throw new ArgumentException($"positions has {positions.Length} entries; ids has {n}.", nameof(positions));
        for (int i = 0; i < n; i++)
            if ((uint)positions[i] >= (uint)Config.MaxPositionEmbeddings)
                throw new ArgumentException($"Position {positions[i]} at token {i} is outside [0, {Config.MaxPositionEmbeddings}) (max_position_embeddings).", nameof(positions));
        using var step = new Temporaries();                                      // segments live as long as the graph may
        Tensor? seg = null;
        if (segments is not null)
        {
            if (segments.Length != n) throw new ArgumentException($"segments has {segments.Length} entries; ids has {n}.", nameof(segments));
            seg = step.Add(Tensor.FromArray(segments, new Shape(n), Device));    // I32 [T]
        }
        return Run(ids, [new SequenceSlice(0, n, 0, null)], LogitRows.All, hidden: null, (int[])positions.Clone(), seg);
    }

    /// <summary>
    /// Every weight under its Hugging Face name (model.embed_tokens.weight, model.layers.{i}.…, model.norm.weight,
    /// lm_head.weight), each once: a tied lm_head is the embedding table and is not listed again. Linears that
    /// are not dense (quantized, LoRA-wrapped) are skipped.
    /// </summary>
    public IEnumerable<(string Name, Tensor Weight)> NamedWeights()
    {
        yield return ("model.embed_tokens.weight", EmbedTokens.Table);
        foreach (var l in _layers)
        {
            string p = $"model.layers.{l.Index}.";
            yield return (p + "input_layernorm.weight", l.InputNorm.Weight);
            yield return (p + "post_attention_layernorm.weight", l.PostAttentionNorm.Weight);
        }
        foreach (var (name, linear) in NamedLinears())
        {
            if (name == "lm_head" && Config.TieWordEmbeddings) continue;
            if (linear is Nn.Linear dense) yield return (name + ".weight", dense.Weight);
        }
        yield return ("model.norm.weight", Norm.Weight);
    }

    /// <summary>
    /// The tied lm_head's own tensor handle (a view sharing the embedding table's storage) when
    /// tie_word_embeddings is set, else null. Autograd accumulates the lm_head gradient on this handle;
    /// full training adds it into the table's gradient (<see cref="FoldTiedGradient"/>).
    /// </summary>
    public Tensor? TiedLmHeadWeight => Config.TieWordEmbeddings && LmHead is Nn.Linear l ? l.Weight : null;

    /// <summary>Adds the tied lm_head handle's gradient into model.embed_tokens' gradient and drops it.</summary>
    public void FoldTiedGradient()
    {
        if (TiedLmHeadWeight is not { Grad: { } g } head) return;
        var table = EmbedTokens.Table;
        if (table.Grad is null) table.Grad = g;
        else { table.Backend.Axpy(1f, g, table.Grad); g.Dispose(); }
        head.Grad = null;
    }

    /// <summary>
    /// Causal-LM loss. <b>Label convention</b> (shared with Training.Data.TrainingExample): labels are
    /// already shifted, <paramref name="labels"/>[t] is the token logits row t must predict (the token after
    /// ids[t]) or −100 where nothing is scored (the prompt, padding, the last token of each packed example), so
    /// no shift happens here and packed examples never predict across a boundary. (Hugging Face's
    /// <c>LlamaForCausalLM</c> takes labels aligned with the ids and shifts them itself;
    /// TrainingExample.ShiftedLabels converts.) The sum of token losses is divided by
    /// <paramref name="normalizer"/>: pass the number of scored tokens of the whole accumulated batch
    /// (<see cref="Training.Data.AccumulatedBatch.TargetCount"/>) so that gradient accumulation gives the token mean
    /// over the batch, not a mean of per-micro-batch means. Null: this call's own count.
    /// </summary>
    public static Tensor CausalLmLoss(Tensor logits, int[] labels, float? normalizer = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.Rank != 2 || logits.Shape[0] != labels.Length)
            throw new ArgumentException($"logits {logits.Describe()} do not match {labels.Length} labels.", nameof(labels));
        var t = Tensor.FromArray(labels, new Shape(labels.Length), logits.Device);       // I32 [T]
        var loss = Ops.CrossEntropy(logits, t, Ops.IgnoreIndex, normalizer);
        if (!loss.RequiresGrad) t.Dispose();                                            // else the graph holds it until released
        return loss;
    }

    /// <summary>
    /// A freshly initialised F32 model for pretraining, as Hugging Face initialises Llama: every linear weight and
    /// the embedding table drawn from normal(0, <paramref name="initializerRange"/>) (config initializer_range,
    /// 0.02 by default), every RMSNorm weight 1. Each tensor draws from its own stream derived from
    /// <paramref name="seed"/> and its index, so the same seed gives the same model.
    /// </summary>
    public static LlamaModel CreateRandom(LlamaConfig config, Device device, ulong seed, float initializerRange = 0.02f)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!(initializerRange > 0)) throw new ArgumentOutOfRangeException(nameof(initializerRange), initializerRange, "initializer_range must be positive.");
        ulong index = 0;
        return Build(config, device, (name, shape) =>
        {
            index++;
            if (shape.Rank == 1) return Tensor.Ones(shape);                                    // RMSNorm weight
            return Tensor.RandN(shape, new Rng(seed * 0x9E3779B97F4A7C15UL + index), initializerRange);
        });
    }

    /// <summary>
    /// The dropout stream of an attached LoRA adapter (set by <see cref="Training.LoraWeights"/>): with gradient
    /// checkpointing, a layer recomputed in the backward replays the masks its forward drew (the stream's
    /// counter is wound back to where that forward started, then restored).
    /// </summary>
    public Nn.LoraDropout? CheckpointedDropout { get; set; }

    // The layer as a checkpoint block that draws the same dropout masks each time it runs.
    private Func<Tensor, Tensor> ReplayingBlock(LlamaLayer layer, ForwardContext ctx)
    {
        if (CheckpointedDropout is not { } dropout) return h => layer.Forward(h, ctx);
        ulong start = dropout.Counter;
        return h =>
        {
            ulong saved = dropout.Counter;
            dropout.Counter = start;
            try { return layer.Forward(h, ctx); }
            finally { dropout.Counter = Math.Max(saved, dropout.Counter); }
        };
    }
}
