using System.Buffers.Binary;
using System.Text;
using PureLlama.Kernels.Blocks;

namespace PureLlama.IO.Gguf;

/// <summary>
/// Parses the head of a GGUF file (v2 or v3, little-endian) — a pure function of the bytes:
/// <code>
/// "GGUF" · u32 version · u64 tensor_count · u64 kv_count
/// kv_count × (string key · u32 type · value)        string = u64 length · UTF-8 bytes
/// tensor_count × (string name · u32 n_dims · n_dims × u64 ne · u32 ggml_type · u64 offset)
/// padding to general.alignment (default 32) · tensor data
/// </code>
/// Every count, length, offset and type is checked before anything is allocated: a count can never ask
/// for more elements than the bytes left in the file could hold, a tensor must lie inside the data
/// section, aligned, not overlapping another. Every problem is one <see cref="InvalidDataException"/>
/// naming the file and the field, key or tensor.
/// </summary>
internal sealed class GgufHeaderReader
{
    /// <summary>"GGUF" read as a little-endian u32.</summary>
    public const uint Magic = 0x46554747;
    /// <summary>The alignment when general.alignment is absent.</summary>
    public const int DefaultAlignment = 32;
    /// <summary>ggml tensors have at most 4 dimensions.</summary>
    public const int MaxDims = 4;
    /// <summary>Longest key or tensor name accepted.</summary>
    public const int MaxNameBytes = 65535;
    /// <summary>Deepest nesting of arrays accepted.</summary>
    public const int MaxArrayDepth = 4;

    private static readonly UTF8Encoding s_utf8 = new(false, throwOnInvalidBytes: true);
    private readonly Stream _stream;
    private readonly string _path;
    private readonly long _length;
    private long _position;
    private readonly byte[] _scratch = new byte[8];

    private GgufHeaderReader(Stream stream, string path, long length)
    {
        _stream = stream; _path = path; _length = length;
    }

    /// <summary>Reads and validates the head of the file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid GGUF file (the message names the field).</exception>
    public static GgufHeader Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"GGUF file '{path}' does not exist.", path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Parse(file, path);
    }

    /// <summary>Parses a GGUF file held in <paramref name="stream"/> (from position 0 to its end); <paramref name="name"/> names it in messages.</summary>
    public static GgufHeader Parse(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new GgufHeaderReader(stream, name, stream.Length).ParseAll();
    }

    /// <summary>Parses a GGUF file given as bytes.</summary>
    public static GgufHeader Parse(byte[] bytes, string name) => Parse(new MemoryStream(bytes, writable: false), name);

    private InvalidDataException Bad(string what) => new($"GGUF file '{_path}': {what}");

    private long Remaining => _length - _position;

    private void Need(long bytes, string field)
    {
        if (bytes > Remaining)
            throw Bad($"truncated: {field} needs {bytes:N0} bytes at offset {_position:N0}, but the file ends at {_length:N0}.");
    }

    private ReadOnlySpan<byte> Take(int bytes, string field)
    {
        Need(bytes, field);
        var span = _scratch.AsSpan(0, bytes);
        _stream.ReadExactly(span);
        _position += bytes;
        return span;
    }

    private uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));
    private ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

    private string String(string field, long maxBytes)
    {
        ulong n = U64($"the length of {field}");
        if (n > (ulong)Remaining)
            throw Bad($"{field} declares {n:N0} bytes, more than the {Remaining:N0} left in the file (truncated or corrupt).");
        if (n > (ulong)maxBytes) throw Bad($"{field} declares {n:N0} bytes; at most {maxBytes:N0} are accepted.");
        if (n == 0) return "";
        var bytes = new byte[n];
        _stream.ReadExactly(bytes);
        _position += (long)n;
        try { return s_utf8.GetString(bytes); }
        catch (DecoderFallbackException) { throw Bad($"{field} is not valid UTF-8."); }
    }

    private GgufHeader ParseAll()
    {
        if (_length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "the magic")) != Magic)
            throw Bad("not a GGUF file (it does not start with the magic \"GGUF\").");
        uint version = U32("the version");
        if (version is 1) throw Bad("GGUF version 1 is not supported (only 2 and 3; re-convert the model with a current llama.cpp).");
        if (version is not (2 or 3))
        {
            bool bigEndian = BinaryPrimitives.ReverseEndianness(version) is 2 or 3;
            throw Bad(bigEndian ? "a big-endian GGUF file; only little-endian files are supported."
                                : $"version {version} is not supported (only 2 and 3).");
        }
        ulong tensorCount = U64("tensor_count");
        ulong kvCount = U64("kv_count");
        // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 4 + 8.
        if (kvCount > (ulong)(Remaining / 13))
            throw Bad($"kv_count is {kvCount:N0}, more key/values than the {Remaining:N0} bytes left could hold (corrupt).");
        if (tensorCount > (ulong)(Remaining / 24))
            throw Bad($"tensor_count is {tensorCount:N0}, more tensors than the {Remaining:N0} bytes left could hold (corrupt).");

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = String($"the key of metadata entry {i}", MaxNameBytes);
            if (key.Length == 0) throw Bad($"metadata entry {i} has an empty key.");
            if (!keys.Add(key)) throw Bad($"metadata key '{key}' appears twice.");
            var type = (GgufValueType)U32($"the type of metadata key '{key}'");
            metadata.Add(new(key, ReadValue(type, $"metadata key '{key}'", 0)));
        }

        int alignment = DefaultAlignment;
        if (metadata.FirstOrDefault(kv => kv.Key == "general.alignment") is { Key: not null } al)
        {
            if (al.Value.Type != GgufValueType.UInt32)
                throw Bad($"metadata key 'general.alignment' is a {al.Value.Type}; a UINT32 was expected.");
            ulong a = (ulong)al.Value.Value;
            if (a == 0 || (a & (a - 1)) != 0 || a > 1 << 30)
                throw Bad($"metadata key 'general.alignment' is {a}; it must be a power of two (at most 2^30).");
            alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            var t = ReadTensorInfo(i, alignment);
            if (!names.Add(t.Name)) throw Bad($"tensor '{t.Name}' appears twice in the tensor table.");
            tensors.Add(t);
        }

        long dataOffset = (_position + alignment - 1) / alignment * alignment;
        long dataLength = Math.Max(0, _length - dataOffset);
        foreach (var t in tensors)
            if (t.ByteLength > 0 && t.Offset + t.ByteLength > dataLength)
                throw Bad($"tensor '{t.Name}' ({t.Describe()}) spans bytes [{t.Offset:N0}, {t.Offset + t.ByteLength:N0}) of the data section, " +
                          $"which has only {dataLength:N0} bytes (the file is truncated or its offsets are wrong).");
        var ordered = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Offset).ToList();
        for (int k = 1; k < ordered.Count; k++)
            if (ordered[k].Offset < ordered[k - 1].Offset + ordered[k - 1].ByteLength)
                throw Bad($"tensors '{ordered[k - 1].Name}' and '{ordered[k].Name}' overlap in the data section.");
        return new GgufHeader(_path, _length, version, metadata, tensors, alignment, dataOffset);
    }

    private GgufTensorInfo ReadTensorInfo(ulong index, int alignment)
    {
        string name = String($"the name of tensor {index}", MaxNameBytes);
        if (name.Length == 0) throw Bad($"tensor {index} has an empty name.");
        string where = $"tensor '{name}'";
        uint nDims = U32($"the n_dims of {where}");
        if (nDims is 0 or > MaxDims) throw Bad($"{where} has {nDims} dimensions; 1 to {MaxDims} are accepted.");
        var dims = new long[nDims];
        long numel = 1;
        for (int d = 0; d < nDims; d++)
        {
            ulong ne = U64($"dimension {d} of {where}");
            if (ne > int.MaxValue) throw Bad($"{where} has dimension {d} = {ne:N0}, larger than PureLlama supports ({int.MaxValue:N0}).");
            dims[d] = (long)ne;
            try { numel = checked(numel * (long)ne); }
            catch (OverflowException) { throw Bad($"{where} has more elements than fit in 64 bits."); }
        }
        uint rawType = U32($"the type of {where}");
        var type = (GgmlType)(int)rawType;
        if (!GgmlTypes.TryGetLayout(type, out int block, out int typeSize))
            throw Bad(GgmlTypes.ForeignName(rawType) is { } known
                ? $"{where} is of ggml type {known} ({rawType}), which PureLlama does not read (it reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)."
                : $"{where} has ggml type {rawType}, which is not a ggml type PureLlama knows.");
        if (dims[0] % block != 0)
            throw Bad($"{where} is {GgmlTypes.Name(type)} with rows of {dims[0]} elements, not a whole number of {block}-element blocks.");
        long bytes;
        try { bytes = checked(numel / block * typeSize); }
        catch (OverflowException) { throw Bad($"{where} has more bytes than fit in 64 bits."); }
        ulong offset = U64($"the offset of {where}");
        if (offset > long.MaxValue || offset % (ulong)alignment != 0)
            throw Bad($"{where} has data offset {offset:N0}, which is not a multiple of the alignment {alignment}.");
        return new GgufTensorInfo(name, dims, type, (long)offset, bytes);
    }

    private GgufValue ReadValue(GgufValueType type, string where, int depth)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return new(type, (ulong)Take(1, where)[0]);
            case GgufValueType.Int8: return new(type, (long)(sbyte)Take(1, where)[0]);
            case GgufValueType.UInt16: return new(type, (ulong)BinaryPrimitives.ReadUInt16LittleEndian(Take(2, where)));
            case GgufValueType.Int16: return new(type, (long)BinaryPrimitives.ReadInt16LittleEndian(Take(2, where)));
            case GgufValueType.UInt32: return new(type, (ulong)U32(where));
            case GgufValueType.Int32: return new(type, (long)BinaryPrimitives.ReadInt32LittleEndian(Take(4, where)));
            case GgufValueType.UInt64: return new(type, U64(where));
            case GgufValueType.Int64: return new(type, BinaryPrimitives.ReadInt64LittleEndian(Take(8, where)));
            case GgufValueType.Float32: return new(type, (double)BinaryPrimitives.ReadSingleLittleEndian(Take(4, where)));
            case GgufValueType.Float64: return new(type, BinaryPrimitives.ReadDoubleLittleEndian(Take(8, where)));
            case GgufValueType.Bool:
                byte b = Take(1, where)[0];
                if (b > 1) throw Bad($"{where} is a bool stored as {b}; only 0 and 1 are valid.");
                return new(type, b == 1);
            case GgufValueType.String: return new(type, String(where, long.MaxValue));
            case GgufValueType.Array: return new(type, ReadArray(where, depth + 1));
            default: throw Bad($"{where} has value type {(uint)type}, which is not a GGUF type (0–12).");
        }
    }

    private GgufArray ReadArray(string where, int depth)
    {
        if (depth > MaxArrayDepth) throw Bad($"{where} nests arrays more than {MaxArrayDepth} deep.");
        var elementType = (GgufValueType)U32($"the element type of {where}");
        if (!GgufValueTypes.IsKnown(elementType))
            throw Bad($"{where} is an array of value type {(uint)elementType}, which is not a GGUF type (0–12).");
        ulong count = U64($"the element count of {where}");
        int min = GgufValueTypes.MinimumSize(elementType);
        if (count > (ulong)(Remaining / min) || count > int.MaxValue)
            throw Bad($"{where} declares {count:N0} {elementType} elements, more than the {Remaining:N0} bytes left could hold (truncated or corrupt).");
        int n = (int)count;
        long start = _position;
        Array items = elementType switch
        {
            GgufValueType.UInt8 or GgufValueType.UInt16 or GgufValueType.UInt32 or GgufValueType.UInt64 => new ulong[n],
            GgufValueType.Int8 or GgufValueType.Int16 or GgufValueType.Int32 or GgufValueType.Int64 => new long[n],
            GgufValueType.Float32 or GgufValueType.Float64 => new double[n],
            GgufValueType.Bool => new bool[n],
            GgufValueType.String => new string[n],
            _ => new GgufArray[n],
        };
        for (int i = 0; i < n; i++)
        {
            var v = ReadValue(elementType, $"element {i} of {where}", depth);
            items.SetValue(v.Value, i);
        }
        return new GgufArray(elementType, items, start, _position - start);
    }
}
