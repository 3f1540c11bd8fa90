using PureLlama.Kernels.Blocks;

namespace PureLlama.IO.Gguf;

/// <summary>
/// Layouts of the ggml tensor types GGUF files may hold that PureLlama reads: F32, F16, BF16 and the block
/// formats of <see cref="BlockFormats"/>. A row of ne0 elements is ne0/BlockSize blocks of TypeSize bytes.
/// </summary>
internal static class GgmlTypes
{
    /// <summary>Elements per block and bytes per block of <paramref name="type"/>; false for a type id PureLlama does not read.</summary>
    public static bool TryGetLayout(GgmlType type, out int blockSize, out int typeSize)
    {
        (blockSize, typeSize) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 or GgmlType.BF16 => (1, 2),
            _ when BlockFormats.IsBlockFormat(type) => (BlockFormats.BlockValues(type), BlockFormats.BlockBytes(type)),
            _ => (0, 0),
        };
        return blockSize > 0;
    }

    /// <summary>The name llama.cpp prints for a type ("Q4_K"), or "type N" for an id PureLlama does not name.</summary>
    public static string Name(GgmlType type) => Enum.IsDefined(type) ? type.ToString() : $"type {(int)type}";

    /// <summary>The llama.cpp name of an id PureLlama does not read (Q4_1, Q5_K, IQ4_XS …), for messages; null when unknown there too.</summary>
    public static string? ForeignName(uint id) => id switch
    {
        3 => "Q4_1", 6 => "Q5_0", 7 => "Q5_1", 9 => "Q8_1", 10 => "Q2_K", 11 => "Q3_K", 13 => "Q5_K", 15 => "Q8_K",
        16 => "IQ2_XXS", 17 => "IQ2_XS", 18 => "IQ3_XXS", 19 => "IQ1_S", 20 => "IQ4_NL", 21 => "IQ3_S", 22 => "IQ2_S", 23 => "IQ4_XS",
        24 => "I8", 25 => "I16", 26 => "I32", 27 => "I64", 28 => "F64", 29 => "IQ1_M",
        _ => null,
    };

    /// <summary>The general.file_type value (LLAMA_FTYPE_*) llama.cpp writes for a model whose main type is <paramref name="type"/>.</summary>
    public static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q8_0 => 7,
        GgmlType.BF16 => 32,
        _ => throw new ArgumentException($"No single-type file type for {Name(type)}.", nameof(type)),
    };
}
