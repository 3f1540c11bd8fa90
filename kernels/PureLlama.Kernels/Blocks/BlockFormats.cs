// The one place a ggml type id turns into a block format: Visit calls the visitor's generic method
// with the format's struct, so every caller (backends, quantizer, checks) shares this switch.
namespace PureLlama.Kernels.Blocks;

/// <summary>Something to do with a block format chosen at run time.</summary>
internal interface IBlockFormatVisitor<out TResult>
{
    /// <summary>Runs with the format <typeparamref name="TFormat"/>.</summary>
    TResult Visit<TFormat>() where TFormat : struct, IBlockFormat;
}

/// <summary>The block formats PureLlama implements.</summary>
internal static class BlockFormats
{
    /// <summary>Q8_0, Q4_0, Q4_K, Q6_K.</summary>
    public static IReadOnlyList<GgmlType> All { get; } = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];

    /// <summary>The format structs, in the order of <see cref="All"/> (the GPU kernel catalogue closes the kernels over them).</summary>
    public static IReadOnlyList<Type> Structs { get; } = [typeof(Q8_0Block), typeof(Q4_0Block), typeof(Q4KBlock), typeof(Q6KBlock)];

    /// <summary>True for a type this family implements.</summary>
    public static bool IsBlockFormat(GgmlType type) => type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K;

    /// <summary>Runs <paramref name="visitor"/> with the format of <paramref name="type"/>.</summary>
    public static TResult Visit<TResult>(GgmlType type, IBlockFormatVisitor<TResult> visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return type switch
        {
            GgmlType.Q8_0 => visitor.Visit<Q8_0Block>(),
            GgmlType.Q4_0 => visitor.Visit<Q4_0Block>(),
            GgmlType.Q4_K => visitor.Visit<Q4KBlock>(),
            GgmlType.Q6_K => visitor.Visit<Q6KBlock>(),
            _ => throw new NotSupportedException($"ggml type {type} ({(uint)type}) is not a block format PureLlama implements (Q8_0, Q4_0, Q4_K, Q6_K)."),
        };
    }

    /// <summary>Values per block of <paramref name="type"/>.</summary>
    public static int BlockValues(GgmlType type) => Visit(type, new SizeOf(true));

    /// <summary>Bytes per block of <paramref name="type"/>.</summary>
    public static int BlockBytes(GgmlType type) => Visit(type, new SizeOf(false));

    /// <summary>Bytes of a row of <paramref name="cols"/> values (a multiple of the block).</summary>
    public static long RowBytes(GgmlType type, long cols)
    {
        int bv = BlockValues(type);
        if (cols <= 0 || cols % bv != 0)
            throw new ArgumentException($"{type} stores rows in blocks of {bv} values; a row of {cols} values does not fit.", nameof(cols));
        return cols / bv * BlockBytes(type);
    }

    private readonly struct SizeOf(bool values) : IBlockFormatVisitor<int>
    {
        public int Visit<TFormat>() where TFormat : struct, IBlockFormat => values ? TFormat.BlockValues : TFormat.BlockBytes;
    }
}
