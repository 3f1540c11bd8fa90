using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Training forward over one row of tokens that may pack several examples: ids I32 [T] at explicit
    /// <paramref name="positions"/> [T] (restarting at 0 for each packed example) and optional
    /// <paramref name="segments"/> [T] (example index of each token; a token attends only to earlier
    /// tokens of its own segment). Returns logits [T, vocab]; differentiable when grad mode is on.
    /// A micro-batch of several sequences is run as one such row (one matmul per weight), which gives
    /// the same result as running them one by one.
    /// </summary>
    public Tensor Forward(Tensor ids, int[] positions, int[]? segments = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(positions);
        if (ids.Rank != 1 || ids.DType != DType.I32) throw new ArgumentException($"ids must be I32 [T], got {ids.Describe()}.", nameof(ids));
        int n = ids.Shape[0];
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
    /// Recompute each decoder layer's forward during the backward instead of keeping its activations
    /// (only the layer inputs are kept): less memory for about one more forward of compute. Applies to
    /// forwards under grad mode.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

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
    /// Causal-LM loss with Hugging Face's label convention: <paramref name="labels"/> [T] are aligned with the
    /// input ids (usually a copy of them, −100 where no loss is wanted, e.g. the prompt) and shifted here, so
    /// row t of <paramref name="logits"/> [T, vocab] is scored against labels[t + 1]; the last row predicts
    /// nothing. With <paramref name="segments"/> a row is not scored against the first token of the next packed
    /// example. The sum of token losses is divided by <paramref name="normalizer"/>: pass the number of scored
    /// tokens of the whole accumulated batch (<see cref="CountLossTokens"/> summed over micro-batches) so that
    /// gradient accumulation gives the token mean over the batch, not a mean of per-micro-batch means.
    /// Null normalizer: this call's own count.
    /// </summary>
    public static Tensor CausalLmLoss(Tensor logits, int[] labels, int[]? segments = null, float? normalizer = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.Rank != 2 || logits.Shape[0] != labels.Length)
            throw new ArgumentException($"logits {logits.Describe()} do not match {labels.Length} labels.", nameof(labels));
        var targets = ShiftedTargets(labels, segments);
        using var t = Tensor.FromArray(targets, new Shape(targets.Length), logits.Device); // I32 [T]
        return Ops.CrossEntropy(logits, t, IgnoreIndex, normalizer);
    }

    /// <summary>The label value that is not scored (−100, as in PyTorch and Hugging Face).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>Tokens <see cref="CausalLmLoss"/> scores for these labels: labels[t + 1] ≠ −100 within a segment.</summary>
    public static int CountLossTokens(int[] labels, int[]? segments = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        int count = 0;
        foreach (int t in ShiftedTargets(labels, segments)) if (t != IgnoreIndex) count++;
        return count;
    }

    // targets[t] = labels[t + 1] inside a segment, −100 across a segment boundary and at the end.
    private static int[] ShiftedTargets(int[] labels, int[]? segments)
    {
        if (segments is not null && segments.Length != labels.Length)
            throw new ArgumentException($"segments has {segments.Length} entries; labels has {labels.Length}.", nameof(segments));
        var targets = new int[labels.Length];
        for (int t = 0; t < labels.Length; t++)
        {
            bool inside = t + 1 < labels.Length && (segments is null || segments[t] == segments[t + 1]);
            targets[t] = inside ? labels[t + 1] : IgnoreIndex;
        }
        return targets;
    }

    // One decoder layer; recomputed during the backward when gradient checkpointing is on.
    private static Tensor RunLayer(LlamaLayer layer, Tensor x, ForwardContext ctx) => layer.Forward(x, ctx);
}
