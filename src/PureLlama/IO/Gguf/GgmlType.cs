namespace PureLlama.IO.Gguf;

/// <summary>
/// The element/block type of a GGUF tensor (ggml_type; stored as a little-endian u32). Only the types
/// whose block size PureLlama knows are listed; <see cref="GgmlTypes.TryGetLayout"/> gives it.
/// </summary>
internal enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
}

/// <summary>Block layouts of the ggml types: a row of ne0 elements is ne0/BlockSize blocks of TypeSize bytes.</summary>
internal static class GgmlTypes
{
    /// <summary>Elements per block and bytes per block of <paramref name="type"/>; false for a type id PureLlama does not know.</summary>
    public static bool TryGetLayout(GgmlType type, out int blockSize, out int typeSize)
    {
        (blockSize, typeSize) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.BF16 => (1, 2),
            GgmlType.Q4_0 => (32, 18),    // f16 d + 16 bytes of nibbles
            GgmlType.Q4_1 => (32, 20),    // f16 d, m + 16 bytes
            GgmlType.Q5_0 => (32, 22),    // f16 d + 4 bytes of high bits + 16 bytes
            GgmlType.Q5_1 => (32, 24),    // f16 d, m + 4 + 16
            GgmlType.Q8_0 => (32, 34),    // f16 d + 32 int8
            GgmlType.Q8_1 => (32, 36),    // f16 d, s + 32 int8
            GgmlType.Q2_K => (256, 84),
            GgmlType.Q3_K => (256, 110),
            GgmlType.Q4_K => (256, 144),  // f16 d, dmin + 12 bytes of 6-bit scales + 128 bytes
            GgmlType.Q5_K => (256, 176),
            GgmlType.Q6_K => (256, 210),  // 128 + 64 + 16 int8 scales + f16 d
            GgmlType.Q8_K => (256, 292),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.F64 => (1, 8),
            _ => (0, 0),
        };
        return blockSize > 0;
    }

    /// <summary>The name llama.cpp prints for a type ("Q4_K"), or "type N" for an unknown id.</summary>
    public static string Name(GgmlType type) => Enum.IsDefined(type) ? type.ToString() : $"type {(uint)type}";

    /// <summary>Bytes of one row of <paramref name="ne0"/> elements (ne0 must be a multiple of the block size).</summary>
    public static long RowBytes(GgmlType type, long ne0)
    {
        if (!TryGetLayout(type, out int block, out int size)) throw new ArgumentException($"Unknown ggml type {(uint)type}.", nameof(type));
        if (ne0 % block != 0) throw new ArgumentException($"A {Name(type)} row of {ne0} elements is not a whole number of {block}-element blocks.", nameof(ne0));
        return ne0 / block * size;
    }

    /// <summary>The general.file_type value llama.cpp writes for a model whose main type is this one (LLAMA_FTYPE_*).</summary>
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
