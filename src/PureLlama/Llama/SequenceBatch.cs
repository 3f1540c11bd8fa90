using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>Which rows of logits a forward computes.</summary>
public enum LogitRows
{
    /// <summary>Only each sequence's last position: [sequences, vocab] (generation).</summary>
    Last,
    /// <summary>Every position: [total tokens, vocab] (scoring, the <c>logits</c> command).</summary>
    All,
}

/// <summary>
/// One sequence's part of a forward: rows [Row, Row + Count) of the flattened token matrix, at
/// positions [Start, Start + Count). With a cache the keys/values go to cache rows [Start, Start + Count)
/// and attention reads cache rows [0, Start + Count).
/// </summary>
internal readonly record struct SequenceSlice(int Row, int Count, int Start, KvCache? Cache);

/// <summary>Everything a decoder layer needs besides its input rows.</summary>
internal sealed class ForwardContext
{
    public required Tensor Positions { get; init; }          // I32 [N]
    public required RopeCache Rope { get; init; }
    public required IReadOnlyList<SequenceSlice> Sequences { get; init; }
    public required int Tokens { get; init; }                // N
    public Tensor? Segments { get; init; }                   // I32 [N]: packed examples attend only within their segment (training)
    public IReadOnlyList<PagedLayout>? CacheLayouts { get; init; } // per sequence with a KvCache: its cache as one block (inference)
    public PagedStep? Paged { get; init; }                   // every row against a shared block pool (the serving engine)
    public IRowLora? Lora { get; init; }                     // per-row-group LoRA terms (the serving engine)
}

/// <summary>One serving step: the rows' layout in the block pool and the pool's per-layer tensors.</summary>
internal sealed record PagedStep(PagedLayout Layout, IReadOnlyList<Tensor> Keys, IReadOnlyList<Tensor> Values,
    IReadOnlyList<Tensor>? KeyScales, IReadOnlyList<Tensor>? ValueScales);

/// <summary>The projections a LoRA adapter can target, in HF order.</summary>
internal enum LoraModule { Q, K, V, O, Gate, Up, Down }

/// <summary>Adds each row group's LoRA term to a projection's output y [N, out] from its input x [N, in].</summary>
internal interface IRowLora
{
    void Apply(int layer, LoraModule module, Tensor x, Tensor y);
}
