using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>
/// Where the rows of one paged-attention step live: sequences in row order, each with its new rows, its
/// context length after the step and its block table (blocks of <see cref="BlockSize"/> positions in a pool of
/// <see cref="PoolBlocks"/>). Validated on the host when built (a bad table can never make a kernel read outside
/// the pool), then copied to the device once and shared by every layer of the step. Dispose it.
/// </summary>
public sealed class PagedLayout : IDisposable
{
    /// <summary>
    /// Builds the layout of <paramref name="rows"/>[s] new rows per sequence at positions [contexts[s] − rows[s], contexts[s]),
    /// their keys read through <paramref name="blockTables"/>[s] (at least ⌈contexts[s] / blockSize⌉ blocks each).
    /// </summary>
    public PagedLayout(IReadOnlyList<int> rows, IReadOnlyList<int> contexts, IReadOnlyList<IReadOnlyList<int>> blockTables, int blockSize, int poolBlocks, Device device)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(contexts);
        ArgumentNullException.ThrowIfNull(blockTables);
        int s = rows.Count;
        if (s == 0) throw new ArgumentException("A paged step needs at least one sequence.", nameof(rows));
        if (contexts.Count != s || blockTables.Count != s) throw new ArgumentException($"{s} row counts, {contexts.Count} context lengths and {blockTables.Count} block tables: one each per sequence.");
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "Block size must be positive.");
        if (poolBlocks < 1) throw new ArgumentOutOfRangeException(nameof(poolBlocks), poolBlocks, "The pool needs at least one block.");
        int maxBlocks = 1, total = 0;
        for (int i = 0; i < s; i++)
        {
            if (rows[i] < 1) throw new ArgumentException($"Sequence {i} has {rows[i]} new rows; at least one.", nameof(rows));
            if (contexts[i] < rows[i]) throw new ArgumentException($"Sequence {i}: context {contexts[i]} is shorter than its {rows[i]} new rows.", nameof(contexts));
            int need = (contexts[i] + blockSize - 1) / blockSize;
            if (blockTables[i] is not { } table || table.Count < need)
                throw new ArgumentException($"Sequence {i}: {contexts[i]} positions need {need} blocks of {blockSize}; its table has {blockTables[i]?.Count ?? 0}.", nameof(blockTables));
            for (int b = 0; b < need; b++)
                if ((uint)table[b] >= (uint)poolBlocks) throw new ArgumentException($"Sequence {i}: block {table[b]} at table index {b} is outside the pool [0, {poolBlocks}).", nameof(blockTables));
            maxBlocks = Math.Max(maxBlocks, need);
            total = checked(total + rows[i]);
        }
        Sequences = s; Rows = total; MaxBlocks = maxBlocks; BlockSize = blockSize; PoolBlocks = poolBlocks;
        SequenceInfo = new int[3 * s];
        Tables = new int[s * maxBlocks];
        Slots = new int[total];
        RowSequence = new int[total];
        for (int i = 0, first = 0; i < s; i++)
        {
            SequenceInfo[3 * i] = first; SequenceInfo[3 * i + 1] = rows[i]; SequenceInfo[3 * i + 2] = contexts[i];
            int need = (contexts[i] + blockSize - 1) / blockSize;
            for (int b = 0; b < need; b++) Tables[i * maxBlocks + b] = blockTables[i][b];
            for (int r = 0; r < rows[i]; r++)
            {
                int pos = contexts[i] - rows[i] + r;
                Slots[first + r] = blockTables[i][pos / blockSize] * blockSize + pos % blockSize;
                RowSequence[first + r] = i;
            }
            first += rows[i];
        }
        try
        {
            SequenceInfoTensor = Tensor.FromArray(SequenceInfo, new Shape(s, 3), device);
            TablesTensor = Tensor.FromArray(Tables, new Shape(s, maxBlocks), device);
            SlotsTensor = Tensor.FromArray(Slots, new Shape(total), device);
            RowSequenceTensor = Tensor.FromArray(RowSequence, new Shape(total), device);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Sequences of the step.</summary>
    public int Sequences { get; }
    /// <summary>New rows of every sequence together.</summary>
    public int Rows { get; }
    /// <summary>Columns of the block table.</summary>
    public int MaxBlocks { get; }
    /// <summary>Positions per block.</summary>
    public int BlockSize { get; }
    /// <summary>Blocks of the pool the tables index.</summary>
    public int PoolBlocks { get; }
    /// <summary>Per sequence (first row, rows, context after the step), host copy.</summary>
    public int[] SequenceInfo { get; }
    /// <summary>Block tables [Sequences, MaxBlocks], host copy.</summary>
    public int[] Tables { get; }
    /// <summary>Pool slot (block·BlockSize + offset) of each new row, host copy.</summary>
    public int[] Slots { get; }
    /// <summary>Sequence of each new row, host copy.</summary>
    public int[] RowSequence { get; }
    internal Tensor SequenceInfoTensor { get; } = null!;
    internal Tensor TablesTensor { get; } = null!;
    internal Tensor SlotsTensor { get; } = null!;
    internal Tensor RowSequenceTensor { get; } = null!;

    /// <inheritdoc/>
    public void Dispose()
    {
        SequenceInfoTensor?.Dispose(); TablesTensor?.Dispose(); SlotsTensor?.Dispose(); RowSequenceTensor?.Dispose();
    }
}
