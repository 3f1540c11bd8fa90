namespace PureLlama.Training.Data;

/// <summary>Options of <see cref="SequenceBatcher"/>.</summary>
public sealed class BatcherOptions
{
    /// <summary>Tokens per row (T). Every example must fit (the datasets truncate to their own MaxSeqLength).</summary>
    public int MaxSeqLength { get; init; } = 2048;
    /// <summary>Pack several examples per row (greedy first-fit in the epoch's shuffled order); otherwise one example per row.</summary>
    public bool Pack { get; init; }
    /// <summary>Shuffle each epoch (seeded by <see cref="Seed"/> and the epoch number); off keeps the given order (use for eval).</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>The shuffle seed.</summary>
    public ulong Seed { get; init; }
    /// <summary>Rows per micro-batch.</summary>
    public int MicroBatchSize { get; init; } = 1;
}

/// <summary>The micro-batches of one optimizer step (gradient accumulation) and their total target count.</summary>
/// <param name="MicroBatches">The micro-batches, in order.</param>
/// <param name="TargetCount">Labels that are not −100 over all of them: divide the summed token losses by this.</param>
/// <param name="Next">The cursor after the step (save with the checkpoint).</param>
public sealed record AccumulatedBatch(IReadOnlyList<MicroBatch> MicroBatches, int TargetCount, DataCursor Next);

/// <summary>
/// Turns examples into training rows epoch after epoch, deterministically: epoch e's rows are a pure
/// function of (examples, options, e), so a <see cref="DataCursor"/> (epoch, row index) is all a
/// checkpoint needs to resume with exactly the same rows. A micro-batch never crosses an epoch end (the
/// last one of an epoch may be short). Not thread-safe (it caches the current epoch's rows).
/// </summary>
public sealed class SequenceBatcher
{
    private readonly IReadOnlyList<TrainingExample> _examples;
    private readonly BatcherOptions _options;
    private int _cachedEpoch = -1;
    private IReadOnlyList<TrainingSequence> _cached = [];

    /// <summary>Creates a batcher over <paramref name="examples"/> (not copied; do not change the list).</summary>
    /// <exception cref="ArgumentException">No examples, or one longer than <see cref="BatcherOptions.MaxSeqLength"/>.</exception>
    public SequenceBatcher(IReadOnlyList<TrainingExample> examples, BatcherOptions options)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxSeqLength < 1) throw new ArgumentOutOfRangeException(nameof(options.MaxSeqLength), options.MaxSeqLength, "MaxSeqLength must be at least 1.");
        if (options.MicroBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options.MicroBatchSize), options.MicroBatchSize, "MicroBatchSize must be at least 1.");
        if (examples.Count == 0) throw new ArgumentException("no examples to batch", nameof(examples));
        foreach (var e in examples)
            if (e.Length > options.MaxSeqLength || e.Length == 0)
                throw new ArgumentException($"example from source {e.Source} has {e.Length} tokens; rows hold 1..{options.MaxSeqLength} (truncate in the dataset)", nameof(examples));
        _examples = examples;
        _options = options;
    }

    /// <summary>The options.</summary>
    public BatcherOptions Options => _options;

    /// <summary>The rows of epoch <paramref name="epoch"/> in order (with packing their number varies a little by epoch).</summary>
    public IReadOnlyList<TrainingSequence> EpochSequences(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (epoch == _cachedEpoch) return _cached;
        int n = _examples.Count;
        int[] order = _options.Shuffle ? SeededOrder.Permutation(n, _options.Seed, (ulong)epoch + 1) : Enumerable.Range(0, n).ToArray();
        var rows = new List<TrainingSequence>(n);
        if (_options.Pack)
        {
            var lengths = _examples.Select(e => e.Length).ToArray();
            foreach (var bin in SequencePacker.FirstFit(lengths, order, _options.MaxSeqLength))
                rows.Add(SequencePacker.Concatenate(bin.Select(i => _examples[i]).ToList()));
        }
        else
        {
            foreach (int i in order) rows.Add(SequencePacker.Concatenate([_examples[i]]));
        }
        _cachedEpoch = epoch;
        _cached = rows.AsReadOnly();
        return _cached;
    }

    /// <summary>Micro-batches in epoch <paramref name="epoch"/> (rows / MicroBatchSize, rounded up).</summary>
    public int MicroBatchesInEpoch(int epoch) => (EpochSequences(epoch).Count + _options.MicroBatchSize - 1) / _options.MicroBatchSize;

    /// <summary>The micro-batch that starts at <paramref name="cursor"/> (a cursor at an epoch's end means the next epoch's start).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The cursor lies beyond its epoch's end (it came from other data or options).</exception>
    public MicroBatch Next(DataCursor cursor)
    {
        var rows = EpochSequences(cursor.Epoch);
        if (cursor.Index > rows.Count || cursor.Index < 0)
            throw new ArgumentOutOfRangeException(nameof(cursor), cursor, $"epoch {cursor.Epoch} has {rows.Count} rows; the cursor does not belong to this data or these options");
        if (cursor.Index == rows.Count)
        {
            cursor = new DataCursor(cursor.Epoch + 1, 0);
            rows = EpochSequences(cursor.Epoch);
        }
        int take = Math.Min(_options.MicroBatchSize, rows.Count - cursor.Index);
        var batch = new TrainingSequence[take];
        for (int k = 0; k < take; k++) batch[k] = rows[cursor.Index + k];
        int end = cursor.Index + take;
        var next = end == rows.Count ? new DataCursor(cursor.Epoch + 1, 0) : new DataCursor(cursor.Epoch, end);
        return new MicroBatch(batch, cursor, next);
    }

    /// <summary>The <paramref name="accumulationSteps"/> micro-batches of one optimizer step starting at <paramref name="cursor"/>.</summary>
    public AccumulatedBatch NextStep(DataCursor cursor, int accumulationSteps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(accumulationSteps, 1);
        var list = new List<MicroBatch>(accumulationSteps);
        int targets = 0;
        for (int k = 0; k < accumulationSteps; k++)
        {
            var mb = Next(cursor);
            list.Add(mb);
            targets += mb.TargetCount;
            cursor = mb.Next;
        }
        return new AccumulatedBatch(list.AsReadOnly(), targets, cursor);
    }
}
