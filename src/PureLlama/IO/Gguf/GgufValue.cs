using System.Globalization;

namespace PureLlama.IO.Gguf;

/// <summary>
/// One GGUF metadata value: its type tag and the value as read — <c>ulong</c> (unsigned integers),
/// <c>long</c> (signed integers), <c>double</c> (floats), <c>bool</c>, <c>string</c> or a <see cref="GgufArray"/>.
/// </summary>
internal sealed record GgufValue(GgufValueType Type, object Value)
{
    public static GgufValue Of(string s) => new(GgufValueType.String, s);
    public static GgufValue OfUInt32(uint v) => new(GgufValueType.UInt32, (ulong)v);
    public static GgufValue OfInt32(int v) => new(GgufValueType.Int32, (long)v);
    public static GgufValue OfFloat32(float v) => new(GgufValueType.Float32, (double)v);
    public static GgufValue OfBool(bool v) => new(GgufValueType.Bool, v);

    public bool IsInteger => Type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16 or GgufValueType.Int16
        or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    /// <summary>The value as a 64-bit signed integer, or null when it is not an integer or does not fit.</summary>
    public long? AsInt64() => Value switch
    {
        long l => l,
        ulong u when u <= long.MaxValue => (long)u,
        _ => null,
    };

    /// <summary>The value as a double when it is a number (integer or float), else null.</summary>
    public double? AsDouble() => Value switch
    {
        double d => d,
        long l => l,
        ulong u => u,
        _ => null,
    };

    public override string ToString() => Value switch
    {
        string s => s.Length > 60 ? $"\"{s[..60]}…\"" : $"\"{s}\"",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Value.ToString() ?? "",
    };
}

/// <summary>
/// A GGUF array value: the element type and the elements, held as a typed CLR array (ulong[], long[],
/// double[], bool[], string[] or GgufArray[] for nested arrays). <see cref="PayloadOffset"/> and
/// <see cref="PayloadLength"/> locate the elements' bytes in the file (after the element type and count).
/// </summary>
internal sealed record GgufArray(GgufValueType ElementType, Array Items, long PayloadOffset, long PayloadLength)
{
    public int Count => Items.Length;

    public override string ToString() => $"[{ElementType} × {Count}]";
}
