using PureLlama.Kernels.Blocks;

namespace PureLlama.IO.Gguf;

/// <summary>
/// One entry of a GGUF tensor table: the name, the dimensions in ggml order (<c>Dims[0]</c> = ne0, the
/// row length, varies fastest), the block type, and where the bytes lie: <see cref="Offset"/> relative
/// to the data section (a multiple of the file's alignment), <see cref="ByteLength"/> bytes.
/// </summary>
internal sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type, long Offset, long ByteLength)
{
    /// <summary>ne0: elements per row.</summary>
    public long RowLength => Dims.Length == 0 ? 1 : Dims[0];

    /// <summary>Rows: the product of ne1, ne2, … .</summary>
    public long Rows => Dims.Skip(1).Aggregate(1L, (a, b) => a * b);

    /// <summary>Elements in all.</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape in row-major (Hugging Face / PyTorch) order: the ggml dims reversed.</summary>
    public int[] RowMajorShape() => Dims.Reverse().Select(d => checked((int)d)).ToArray();

    /// <summary>e.g. "Q4_K [256, 688]" (ggml order).</summary>
    public string Describe() => $"{GgmlTypes.Name(Type)} [{string.Join(", ", Dims)}]";
}
