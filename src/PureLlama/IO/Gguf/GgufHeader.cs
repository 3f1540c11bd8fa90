namespace PureLlama.IO.Gguf;

/// <summary>
/// The parsed and validated head of a GGUF file: version, metadata key/values in file order, the tensor
/// table, the alignment and the offset of the data section. Made by <see cref="GgufHeaderReader"/>;
/// reading it touches no tensor data. Lookups that fail raise <see cref="InvalidDataException"/> naming
/// the file and the key.
/// </summary>
internal sealed class GgufHeader
{
    private readonly Dictionary<string, GgufValue> _byKey;
    private readonly Dictionary<string, GgufTensorInfo> _byName;

    internal GgufHeader(string path, long fileLength, uint version, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata,
        IReadOnlyList<GgufTensorInfo> tensors, int alignment, long dataOffset)
    {
        Path = path; FileLength = fileLength; Version = version; Metadata = metadata; Tensors = tensors;
        Alignment = alignment; DataOffset = dataOffset;
        _byKey = metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file (or the name given to the parser).</summary>
    public string Path { get; }
    /// <summary>Bytes in the file.</summary>
    public long FileLength { get; }
    /// <summary>GGUF version: 2 or 3.</summary>
    public uint Version { get; }
    /// <summary>Every key/value in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; }
    /// <summary>The tensor table in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    /// <summary>general.alignment, or 32.</summary>
    public int Alignment { get; }
    /// <summary>Absolute file offset of the data section (the end of the tensor table rounded up to the alignment).</summary>
    public long DataOffset { get; }
    /// <summary>Bytes from the data section's start to the end of the file (0 when the file ends before it).</summary>
    public long DataLength => Math.Max(0, FileLength - DataOffset);

    public bool Contains(string key) => _byKey.ContainsKey(key);
    public bool TryGet(string key, out GgufValue value) => _byKey.TryGetValue(key, out value!);
    public bool TryGetTensor(string name, out GgufTensorInfo info) => _byName.TryGetValue(name, out info!);

    public GgufTensorInfo Tensor(string name) => _byName.TryGetValue(name, out var t) ? t
        : throw new InvalidDataException($"GGUF file '{Path}' has no tensor '{name}'.");

    internal InvalidDataException Error(string key, string problem) => new($"GGUF file '{Path}': metadata key '{key}' {problem}");

    /// <summary>A string value, or null when the key is absent.</summary>
    public string? OptionalString(string key)
    {
        if (!_byKey.TryGetValue(key, out var v)) return null;
        return v.Value as string ?? throw Error(key, $"is a {v.Type}; a string was expected.");
    }

    public string RequiredString(string key) => OptionalString(key) ?? throw Error(key, "is missing.");

    /// <summary>An integer value (any integer type) within [min, max], or null when absent.</summary>
    public long? OptionalInteger(string key, long min = long.MinValue, long max = long.MaxValue)
    {
        if (!_byKey.TryGetValue(key, out var v)) return null;
        if (!v.IsInteger || v.AsInt64() is not long l) throw Error(key, $"is {v.Type} {v}; an integer was expected.");
        if (l < min || l > max) throw Error(key, $"is {l}; it must be in [{min}, {max}].");
        return l;
    }

    public long RequiredInteger(string key, long min = long.MinValue, long max = long.MaxValue)
        => OptionalInteger(key, min, max) ?? throw Error(key, "is missing.");

    /// <summary>A number (float or integer), or null when absent.</summary>
    public double? OptionalNumber(string key)
    {
        if (!_byKey.TryGetValue(key, out var v)) return null;
        return v.AsDouble() is double d && double.IsFinite(d) ? d : throw Error(key, $"is {v.Type} {v}; a finite number was expected.");
    }

    public bool? OptionalBool(string key)
    {
        if (!_byKey.TryGetValue(key, out var v)) return null;
        return v.Value is bool b ? b : throw Error(key, $"is a {v.Type}; a bool was expected.");
    }

    /// <summary>An array whose elements are of <paramref name="elementType"/>, or null when absent.</summary>
    public GgufArray? OptionalArray(string key, params GgufValueType[] elementType)
    {
        if (!_byKey.TryGetValue(key, out var v)) return null;
        if (v.Value is not GgufArray a) throw Error(key, $"is a {v.Type}; an array was expected.");
        if (elementType.Length > 0 && !elementType.Contains(a.ElementType))
            throw Error(key, $"is an array of {a.ElementType}; an array of {string.Join(" or ", elementType)} was expected.");
        return a;
    }
}
