using PureLlama.Tensors;

namespace PureLlama.IO;

/// <summary>
/// One entry of a safetensors header: a tensor's name, dtype, shape and byte range
/// (<see cref="DataBegin"/>..<see cref="DataEnd"/>, relative to the start of the data section).
/// </summary>
/// <param name="Name">The tensor name (Hugging Face naming, e.g. <c>model.norm.weight</c>).</param>
/// <param name="DTypeName">The dtype as written in the file (e.g. <c>BF16</c>, <c>F64</c>).</param>
/// <param name="DType">The PureLlama dtype, or null when the file's dtype is one PureLlama cannot hold.</param>
/// <param name="Shape">The tensor shape.</param>
/// <param name="DataBegin">First byte of the data, relative to the data section.</param>
/// <param name="DataEnd">One past the last byte of the data, relative to the data section.</param>
public sealed record SafeTensorInfo(string Name, string DTypeName, DType? DType, Shape Shape, long DataBegin, long DataEnd)
{
    /// <summary>Bytes of data.</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <summary>True when PureLlama can load this tensor (its dtype maps to a <see cref="Tensors.DType"/>).</summary>
    public bool IsSupported => DType is not null;
}

/// <summary>The dtype names the safetensors format defines, with their sizes in bits.</summary>
internal static class SafeTensorsDTypes
{
    // Every dtype of the safetensors specification, so a file that uses one we do not support is
    // still parsed and validated; only loading such a tensor fails.
    private static readonly Dictionary<string, (int Bits, DType? DType)> s_table = new(StringComparer.Ordinal)
    {
        ["BOOL"] = (8, null),
        ["U8"] = (8, Tensors.DType.U8),
        ["I8"] = (8, Tensors.DType.I8),
        ["F8_E5M2"] = (8, null),
        ["F8_E4M3"] = (8, null),
        ["F8_E8M0"] = (8, null),
        ["F4"] = (4, null),
        ["F6_E2M3"] = (6, null),
        ["F6_E3M2"] = (6, null),
        ["I16"] = (16, null),
        ["U16"] = (16, null),
        ["F16"] = (16, Tensors.DType.F16),
        ["BF16"] = (16, Tensors.DType.BF16),
        ["I32"] = (32, Tensors.DType.I32),
        ["U32"] = (32, null),
        ["F32"] = (32, Tensors.DType.F32),
        ["C64"] = (64, null),
        ["F64"] = (64, null),
        ["I64"] = (64, null),
        ["U64"] = (64, null),
    };

    /// <summary>Bits per element and PureLlama dtype of a safetensors dtype name; false if the name is unknown.</summary>
    public static bool TryLookup(string name, out int bits, out DType? dtype)
    {
        if (s_table.TryGetValue(name, out var e)) { bits = e.Bits; dtype = e.DType; return true; }
        bits = 0; dtype = null;
        return false;
    }

    /// <summary>The safetensors name of a PureLlama dtype.</summary>
    public static string NameOf(DType dtype) => dtype switch
    {
        Tensors.DType.F32 => "F32",
        Tensors.DType.BF16 => "BF16",
        Tensors.DType.F16 => "F16",
        Tensors.DType.I8 => "I8",
        Tensors.DType.U8 => "U8",
        Tensors.DType.I32 => "I32",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "No safetensors name for this dtype."),
    };

    /// <summary>All known names, for messages.</summary>
    public static string KnownNames => string.Join(", ", s_table.Keys);
}
