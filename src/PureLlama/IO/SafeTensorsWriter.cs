using System.Buffers.Binary;
using System.Text.Json;
using PureLlama.Tensors;

namespace PureLlama.IO;

/// <summary>
/// Writes safetensors files that Hugging Face's reader accepts: header keys sorted by name,
/// <c>__metadata__</c> first, header padded with spaces to a multiple of 8 bytes, data packed
/// with no holes. Data is laid out by element size (largest first), then name, so every tensor
/// starts at a multiple of its element size and can be memory-mapped in place. The file is
/// written to <c>path.tmp</c> and renamed: a failed write never corrupts an existing file.
/// </summary>
public static unsafe class SafeTensorsWriter
{
    private const int WriteChunk = 1 << 24;

    /// <summary>Writes <paramref name="tensors"/> (any device, any layout) and optional string metadata to <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">A name is empty, repeated or reserved, or a tensor is disposed.</exception>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        // Materialise first: an enumerator that fails must fail before any file is touched.
        var list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in list)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("A tensor to write has an empty name.", nameof(tensors));
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor.", nameof(tensors));
            if (!seen.Add(name)) throw new ArgumentException($"Tensor name '{name}' appears twice.", nameof(tensors));
            ArgumentNullException.ThrowIfNull(t, $"tensor '{name}'");
            if (t.IsDisposed) throw new ArgumentException($"Tensor '{name}' is disposed.", nameof(tensors));
        }

        var layout = list.OrderByDescending(e => e.Tensor.DType.SizeOf()).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
        var begin = new Dictionary<string, long>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, t) in layout)
        {
            begin[name] = offset;
            offset += t.ByteLength;
        }
        byte[] header = BuildHeader(list, begin, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var (name, t) in layout) WriteData(stream, name, t);
        });
    }

    private static byte[] BuildHeader(List<(string Name, Tensor Tensor)> list, Dictionary<string, long> begin, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in metadata.OrderBy(k => k.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            foreach (var (name, t) in list.OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", SafeTensorsDTypes.NameOf(t.DType));
                w.WriteStartArray("shape");
                foreach (int d in t.Shape.Dims) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(begin[name]);
                w.WriteNumberValue(begin[name] + t.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int length = (int)ms.Length;
        int padded = (length + 7) / 8 * 8;
        var header = new byte[padded];
        ms.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private static void WriteData(FileStream stream, string name, Tensor t)
    {
        if (t.ByteLength == 0) return;
        if (t.Storage is HostStorage && t.IsContiguous)
        {
            byte* p = t.Pointer<byte>();
            for (long done = 0; done < t.ByteLength; done += WriteChunk)
                stream.Write(new ReadOnlySpan<byte>(p + done, (int)Math.Min(WriteChunk, t.ByteLength - done)));
            return;
        }
        if (t.ByteLength > Array.MaxLength)
            throw new ArgumentException($"Tensor '{name}' ({t.Describe()}) is too large to stage through host memory; make it a contiguous host tensor first.");
        using var dense = t.IsContiguous ? null : t.ContiguousCopy();
        var bytes = new byte[t.ByteLength];
        (dense ?? t).Backend.CopyToHost(dense ?? t, bytes);
        stream.Write(bytes);
    }
}
