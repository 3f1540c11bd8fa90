namespace PureLlama.IO.Gguf;

/// <summary>The type tag of a GGUF metadata value (gguf_type in ggml's gguf.h; stored as a little-endian u32).</summary>
internal enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

internal static class GgufValueTypes
{
    /// <summary>True for the tags defined by GGUF v2/v3.</summary>
    public static bool IsKnown(GgufValueType t) => (uint)t <= (uint)GgufValueType.Float64;

    /// <summary>Bytes of a fixed-size value; 0 for strings and arrays.</summary>
    public static int FixedSize(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    /// <summary>The fewest bytes one element of this type takes in a file (a string: its u64 length; an array: tag and count).</summary>
    public static int MinimumSize(GgufValueType t) => t switch
    {
        GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => FixedSize(t),
    };
}
