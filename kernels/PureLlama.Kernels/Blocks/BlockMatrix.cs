// A weight Ŵ [rows, cols] in a ggml block format, as GGUF stores it: row r is the bytes
// [r·RowBytes, (r+1)·RowBytes), cols / BlockValues blocks back to back (no padding, no alignment).
namespace PureLlama.Kernels.Blocks;

/// <summary>Raw view of a block-format weight (no ownership).</summary>
internal readonly unsafe struct BlockMatrix
{
    /// <summary>Rows (output features) and columns (input features, ggml's ne0).</summary>
    public readonly int Rows, Cols;
    /// <summary>The blocks, row after row.</summary>
    public readonly byte* Data;
    /// <summary>Bytes of one row.</summary>
    public readonly long RowBytes;

    /// <summary>Wraps rows·RowBytes bytes at <paramref name="data"/>; cols must be a multiple of the block.</summary>
    public BlockMatrix(int rows, int cols, byte* data, int blockValues, int blockBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if (cols % blockValues != 0)
            throw new ArgumentException($"A row of {cols} values is not a whole number of blocks of {blockValues}.", nameof(cols));
        ArgumentNullException.ThrowIfNull(data);
        Rows = rows; Cols = cols; Data = data;
        RowBytes = (long)cols / blockValues * blockBytes;
    }

    /// <summary>Start of row r.</summary>
    public byte* Row(int r) => Data + r * RowBytes;
}
