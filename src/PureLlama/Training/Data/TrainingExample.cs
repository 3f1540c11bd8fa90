namespace PureLlama.Training.Data;

/// <summary>
/// One tokenized training example. <b>Label convention (used by every dataset here):</b> labels are
/// already shifted. <c>Labels[t]</c> is the token the model must predict from the logits at position
/// <c>t</c> (the token after <c>Ids[t]</c>), or <see cref="IgnoreIndex"/> (−100) where there is no loss;
/// the trainer computes cross-entropy of <c>logits[t]</c> against <c>Labels[t]</c> directly and must not
/// shift again. The last token of an example always has label −100, so packed examples never predict
/// across a boundary.
/// </summary>
/// <param name="Ids">Token ids [n].</param>
/// <param name="Labels">Targets [n]: the next token id, or −100.</param>
/// <param name="Source">Where it came from (1-based line of a JSONL file, or the chunk index of a text dataset).</param>
public sealed record TrainingExample(int[] Ids, int[] Labels, int Source)
{
    /// <summary>The label value that contributes no loss (PyTorch's default <c>ignore_index</c>).</summary>
    public const int IgnoreIndex = Autograd.Ops.IgnoreIndex;

    /// <summary>Number of tokens.</summary>
    public int Length => Ids.Length;

    /// <summary>Number of labels that are not <see cref="IgnoreIndex"/> (tokens that contribute to the loss; counted on each call).</summary>
    public int TargetCount => CountTargets(Labels);

    /// <summary>Builds shifted labels from per-token "is trained" flags: <c>labels[t] = ids[t+1]</c> when token <c>t+1</c> is trained, else −100; the last label is −100.</summary>
    /// <param name="ids">Token ids [n].</param>
    /// <param name="trained">Per token [n]: whether the model should learn to produce this token.</param>
    public static int[] ShiftedLabels(ReadOnlySpan<int> ids, ReadOnlySpan<bool> trained)
    {
        if (ids.Length != trained.Length) throw new ArgumentException($"ids ({ids.Length}) and trained flags ({trained.Length}) differ in length", nameof(trained));
        var labels = new int[ids.Length];
        for (int t = 0; t < ids.Length; t++) labels[t] = t + 1 < ids.Length && trained[t + 1] ? ids[t + 1] : IgnoreIndex;
        return labels;
    }

    internal static int CountTargets(ReadOnlySpan<int> labels)
    {
        int n = 0;
        foreach (int l in labels) if (l != IgnoreIndex) n++;
        return n;
    }
}

/// <summary>
/// One row the model trains on (one or several packed examples). All arrays have the same length T.
/// Labels follow <see cref="TrainingExample"/>'s convention (already shifted, −100 = no loss).
/// </summary>
/// <param name="Ids">Input token ids, I32 [T].</param>
/// <param name="Labels">Targets, I32 [T] (−100 = no loss).</param>
/// <param name="Positions">RoPE positions, I32 [T]; restart at 0 at the start of every packed example.</param>
/// <param name="SegmentIds">
/// I32 [T]: 0, 1, 2, … per packed example (all 0 without packing). Pass them as both the query and key
/// segment ids of <c>IBackend.Attention</c> so no token attends across an example boundary.
/// </param>
/// <param name="ExampleCount">How many examples were packed into the row.</param>
public sealed record TrainingSequence(int[] Ids, int[] Labels, int[] Positions, int[] SegmentIds, int ExampleCount)
{
    /// <summary>T, the number of tokens.</summary>
    public int Length => Ids.Length;

    /// <summary>Number of labels that are not −100 (counted on each call).</summary>
    public int TargetCount => TrainingExample.CountTargets(Labels);
}

/// <summary>
/// Where a <see cref="SequenceBatcher"/> is in the data: the epoch and the index of the next sequence in
/// that epoch's (shuffled, packed) order. Save it with a checkpoint and pass it back to resume: the same
/// examples, options and seed give exactly the same sequences from there on.
/// </summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Index">Index of the next sequence within the epoch.</param>
public readonly record struct DataCursor(int Epoch, int Index)
{
    /// <summary>The start of training.</summary>
    public static DataCursor Start => new(0, 0);

    /// <summary>"epoch:index", the form <see cref="Parse"/> reads.</summary>
    public override string ToString() => $"{Epoch}:{Index}";

    /// <summary>Reads the "epoch:index" form of <see cref="ToString"/>.</summary>
    /// <exception cref="FormatException">The text is not two non-negative integers separated by ':'.</exception>
    public static DataCursor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':');
        if (colon > 0 && int.TryParse(text.AsSpan(0, colon), out int e) && int.TryParse(text.AsSpan(colon + 1), out int i) && e >= 0 && i >= 0)
            return new DataCursor(e, i);
        throw new FormatException($"data cursor \"{text}\" is not \"epoch:index\" (two non-negative integers)");
    }
}

/// <summary>Sequences processed in one forward/backward pass.</summary>
/// <param name="Sequences">The rows (lengths may differ; see <see cref="Pad"/>).</param>
/// <param name="Start">The cursor of the first row.</param>
/// <param name="Next">The cursor after the last row (save this to resume after the batch).</param>
public sealed record MicroBatch(IReadOnlyList<TrainingSequence> Sequences, DataCursor Start, DataCursor Next)
{
    /// <summary>Labels that are not −100 over all rows (normalise the loss by the sum over the accumulated micro-batches).</summary>
    public int TargetCount => Sequences.Sum(s => s.TargetCount);

    /// <summary>Tokens over all rows (before padding).</summary>
    public int TokenCount => Sequences.Sum(s => s.Length);

    /// <summary>
    /// The rows as row-major [B, L] arrays, L the longest row, padded on the right with <paramref name="padId"/>,
    /// label −100, position 0 and segment id −1 (a segment of its own, so real tokens never see padding).
    /// </summary>
    public PaddedBatch Pad(int padId)
    {
        int rows = Sequences.Count, len = Sequences.Count == 0 ? 0 : Sequences.Max(s => s.Length);
        var ids = new int[rows * len];
        var labels = new int[rows * len];
        var pos = new int[rows * len];
        var seg = new int[rows * len];
        Array.Fill(ids, padId);
        Array.Fill(labels, TrainingExample.IgnoreIndex);
        Array.Fill(seg, -1);
        for (int r = 0; r < rows; r++)
        {
            var s = Sequences[r];
            s.Ids.CopyTo(ids, r * len);
            s.Labels.CopyTo(labels, r * len);
            s.Positions.CopyTo(pos, r * len);
            s.SegmentIds.CopyTo(seg, r * len);
        }
        return new PaddedBatch(rows, len, ids, labels, pos, seg);
    }
}

/// <summary>A micro-batch as dense row-major arrays [Rows, Length] (see <see cref="MicroBatch.Pad"/>).</summary>
/// <param name="Rows">B.</param>
/// <param name="Length">L, the longest row.</param>
/// <param name="Ids">I32 [B, L].</param>
/// <param name="Labels">I32 [B, L], −100 on padding.</param>
/// <param name="Positions">I32 [B, L], 0 on padding.</param>
/// <param name="SegmentIds">I32 [B, L], −1 on padding.</param>
public sealed record PaddedBatch(int Rows, int Length, int[] Ids, int[] Labels, int[] Positions, int[] SegmentIds);
