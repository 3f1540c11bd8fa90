namespace PureLlama.Training.Data;

/// <summary>What a <see cref="Trainer"/> learns from: the batched training rows and the held-out rows it evaluates on.</summary>
public sealed class TrainingData
{
    /// <summary>Training rows (batched, shuffled as the batcher's options say) and optional held-out rows (not shuffled).</summary>
    public TrainingData(SequenceBatcher train, IReadOnlyList<TrainingSequence>? heldOut = null)
    {
        Train = train ?? throw new ArgumentNullException(nameof(train));
        HeldOut = heldOut ?? [];
    }

    /// <summary>
    /// Batches <paramref name="train"/> with <paramref name="batching"/> and turns <paramref name="heldOut"/> into rows
    /// of the same length (packed as the training rows are, never shuffled).
    /// </summary>
    public static TrainingData From(IReadOnlyList<TrainingExample> train, IReadOnlyList<TrainingExample>? heldOut, BatcherOptions batching)
    {
        ArgumentNullException.ThrowIfNull(batching);
        var rows = heldOut is { Count: > 0 }
            ? new SequenceBatcher(heldOut, new BatcherOptions { MaxSeqLength = batching.MaxSeqLength, Pack = batching.Pack, Shuffle = false }).EpochSequences(0)
            : [];
        return new TrainingData(new SequenceBatcher(train, batching), rows);
    }

    /// <summary>The training rows.</summary>
    public SequenceBatcher Train { get; }

    /// <summary>The held-out rows (empty: no evaluation).</summary>
    public IReadOnlyList<TrainingSequence> HeldOut { get; }
}
