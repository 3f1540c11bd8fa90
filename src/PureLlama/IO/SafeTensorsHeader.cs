using System.Buffers.Binary;
using System.Text.Json;
using PureLlama.Tensors;

namespace PureLlama.IO;

/// <summary>
/// The parsed and validated header of a safetensors file: an 8-byte little-endian header length
/// N, N bytes of JSON (name → {dtype, shape, data_offsets} plus an optional <c>__metadata__</c>
/// string map), then the data section. Reading the header touches no tensor data.
/// </summary>
public sealed class SafeTensorsHeader
{
    /// <summary>The largest header accepted (the same limit as the reference Rust implementation).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private readonly Dictionary<string, SafeTensorInfo> _byName;

    private SafeTensorsHeader(string path, long fileLength, long headerLength, IReadOnlyList<SafeTensorInfo> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        FileLength = fileLength;
        HeaderLength = headerLength;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file the header was read from.</summary>
    public string Path { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long FileLength { get; }

    /// <summary>N: bytes of JSON after the 8-byte length prefix.</summary>
    public long HeaderLength { get; }

    /// <summary>File offset of the data section (8 + N).</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>Bytes from the data start to the end of the file.</summary>
    public long DataLength => FileLength - DataStart;

    /// <summary>The tensors, sorted by name (ordinal).</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>True when the file holds a tensor of that name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The entry of a tensor, or false.</summary>
    public bool TryGet(string name, out SafeTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>Reads and validates the header of <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header is malformed or inconsistent with the file.</exception>
    public static SafeTensorsHeader Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Safetensors file '{path}' does not exist.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"Safetensors file '{path}' is truncated: {fileLength} bytes, fewer than the 8-byte header length.");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderLength)
            throw new InvalidDataException($"Safetensors file '{path}' declares a header of {n:N0} bytes, more than the {MaxHeaderLength:N0} accepted (not a safetensors file, or corrupt).");
        if (8 + (long)n > fileLength)
            throw new InvalidDataException($"Safetensors file '{path}' declares a header of {n:N0} bytes, past the end of the file ({fileLength:N0} bytes): truncated or corrupt.");
        if (n < 2)
            throw new InvalidDataException($"Safetensors file '{path}' declares a header of {n} bytes; a JSON object needs at least 2.");
        var json = new byte[n];
        stream.ReadExactly(json);
        return Parse(path, json, fileLength);
    }

    /// <summary>Parses header JSON bytes of a file of <paramref name="fileLength"/> bytes (named <paramref name="path"/> in messages).</summary>
    internal static SafeTensorsHeader Parse(string path, ReadOnlySpan<byte> json, long fileLength)
    {
        long headerLength = json.Length;
        long dataLength = fileLength - 8 - headerLength;
        using (var doc = StrictJson.Parse(json.ToArray(), $"header of safetensors file {path}", new JsonDocumentOptions { MaxDepth = 16 }))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"Safetensors file '{path}' has a header that is a JSON {root.ValueKind}, not an object.");
            var tensors = new List<SafeTensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>();
            bool sawMetadata = false;
            foreach (var prop in root.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (sawMetadata) throw new InvalidDataException($"Safetensors file '{path}' has two '__metadata__' entries in its header.");
                    sawMetadata = true;
                    metadata = ParseMetadata(path, prop.Value);
                    continue;
                }
                if (!names.Add(prop.Name))
                    throw new InvalidDataException($"Safetensors file '{path}' lists tensor '{prop.Name}' twice in its header.");
                tensors.Add(ParseEntry(path, prop.Name, prop.Value, dataLength));
            }
            CheckCoverage(path, tensors, dataLength);
            tensors.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return new SafeTensorsHeader(path, fileLength, headerLength, tensors, metadata);
        }
    }

    private static Dictionary<string, string> ParseMetadata(string path, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null) return new Dictionary<string, string>();
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"Safetensors file '{path}': '__metadata__' must be an object of strings, not a JSON {value.ValueKind}.");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"Safetensors file '{path}': '__metadata__' entry '{p.Name}' must be a string, not a JSON {p.Value.ValueKind}.");
            map[p.Name] = p.Value.GetString()!;
        }
        return map;
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        string where = $"tensor '{name}' in safetensors file '{path}'";
        if (e.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"The header entry of {where} is a JSON {e.ValueKind}, not an object with dtype, shape and data_offsets.");
        if (name.Length == 0) throw new InvalidDataException($"Safetensors file '{path}' has a tensor with an empty name.");

        if (!e.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"The header entry of {where} has no string field 'dtype'.");
        string dtypeName = dtypeEl.GetString()!;
        if (!SafeTensorsDTypes.TryLookup(dtypeName, out int bits, out var dtype))
            throw new InvalidDataException($"Unknown dtype '{dtypeName}' for {where} (known: {SafeTensorsDTypes.KnownNames}).");

        if (!e.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"The header entry of {where} has no array field 'shape'.");
        int rank = shapeEl.GetArrayLength();
        if (rank > 16) throw new InvalidDataException($"The shape of {where} has {rank} dimensions; at most 16 are accepted.");
        var dims = new int[rank];
        long numel = 1;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw new InvalidDataException($"The shape of {where} has dimension {i} = {d.GetRawText()}; expected a non-negative integer.");
            if (dim > int.MaxValue)
                throw new InvalidDataException($"The shape of {where} has dimension {i} = {dim}, larger than PureLlama supports ({int.MaxValue}).");
            dims[i++] = (int)dim;
            try { numel = checked(numel * dim); }
            catch (OverflowException) { throw new InvalidDataException($"The shape of {where} has more elements than fit in 64 bits."); }
        }

        var shape = new Shape(dims);
        if (!e.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new InvalidDataException($"The header entry of {where} needs 'data_offsets' as an array [begin, end].");
        long begin = 0, end = 0;
        if (offEl[0].ValueKind != JsonValueKind.Number || offEl[1].ValueKind != JsonValueKind.Number
            || !offEl[0].TryGetInt64(out begin) || !offEl[1].TryGetInt64(out end) || begin < 0 || end < begin)
            throw new InvalidDataException($"The data_offsets of {where} are {offEl.GetRawText()}; expected integers 0 ≤ begin ≤ end.");

        long expectedBytes;
        try { expectedBytes = checked(numel * bits) / 8; }
        catch (OverflowException) { throw new InvalidDataException($"The shape of {where} has more bytes than fit in 64 bits."); }
        if (numel * bits % 8 != 0)
            throw new InvalidDataException($"The shape {shape} of {where} does not fill whole bytes with {dtypeName} ({bits}-bit) elements.");
        if (end - begin != expectedBytes)
            throw new InvalidDataException($"The data_offsets [{begin}, {end}] of {where} span {end - begin:N0} bytes, but shape {shape} of {dtypeName} needs {expectedBytes:N0}.");
        if (end > dataLength)
            throw new InvalidDataException($"The data_offsets [{begin}, {end}] of {where} reach past the end of the data section ({dataLength:N0} bytes): the file is truncated or its header lies.");
        return new SafeTensorInfo(name, dtypeName, dtype, shape, begin, end);
    }

    // As the reference implementation requires: the tensors, in offset order, tile the data section exactly —
    // no overlap, no gap, nothing after the last one. A header length one byte off then cannot go unnoticed
    // (every tensor would otherwise be read one byte shifted).
    private static void CheckCoverage(string path, List<SafeTensorInfo> tensors, long dataLength)
    {
        var byOffset = tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd).ToList();
        long expected = 0;
        SafeTensorInfo? previous = null;
        foreach (var t in byOffset)
        {
            if (t.DataBegin < expected)
                throw new InvalidDataException($"Safetensors file '{path}': tensors '{previous!.Name}' [{previous.DataBegin}, {previous.DataEnd}) and '{t.Name}' [{t.DataBegin}, {t.DataEnd}) overlap.");
            if (t.DataBegin > expected)
                throw new InvalidDataException($"Safetensors file '{path}': bytes [{expected}, {t.DataBegin}) of the data section before tensor '{t.Name}' belong to no tensor (a gap: corrupt header or wrong header length).");
            expected = t.DataEnd;
            previous = t;
        }
        if (expected != dataLength)
            throw new InvalidDataException($"Safetensors file '{path}': the tensors cover {expected:N0} bytes but the data section after the {tensors.Count}-entry header holds {dataLength:N0} " +
                "(wrong header length, trailing bytes or a truncated header).");
    }
}
