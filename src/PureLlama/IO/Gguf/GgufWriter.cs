using System.Text;
using PureLlama.Kernels.Blocks;

namespace PureLlama.IO.Gguf;

/// <summary>
/// Writes a GGUF v3 file (the layout <see cref="GgufHeaderReader"/> reads): header, metadata in the order added,
/// the tensor table with offsets packed at the alignment, then each tensor's bytes, produced one at a time by its
/// callback (so a model is never in memory twice). <see cref="WriteFile"/> writes atomically (temp file + rename).
/// </summary>
internal sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly List<(string Name, GgmlType Type, long[] Dims, long Bytes, Func<byte[]> Data)> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>The data alignment (32 unless a general.alignment key is added).</summary>
    public int Alignment { get; private set; } = GgufHeaderReader.DefaultAlignment;

    /// <summary>The tensors added so far: name, type and dims in ggml order.</summary>
    public IEnumerable<(string Name, GgmlType Type, long[] Dims)> Tensors => _tensors.Select(t => (t.Name, t.Type, t.Dims));

    /// <summary>Adds a metadata key/value (each key once).</summary>
    public void Add(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_keys.Add(key)) throw new ArgumentException($"Metadata key '{key}' was added twice.", nameof(key));
        if (key == "general.alignment")
        {
            if (value.Type != GgufValueType.UInt32 || value.Value is not ulong a || a == 0 || (a & (a - 1)) != 0 || a > 1 << 30)
                throw new ArgumentException($"general.alignment must be a UINT32 power of two, not {value.Type} {value}.", nameof(value));
            Alignment = (int)a;
        }
        _metadata.Add(new(key, value));
    }

    /// <summary>Adds a tensor: <paramref name="dims"/> in ggml order (ne0 = row length); <paramref name="data"/> returns its bytes when written.</summary>
    public void AddTensor(string name, GgmlType type, long[] dims, Func<byte[]> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dims);
        ArgumentNullException.ThrowIfNull(data);
        if (!_names.Add(name)) throw new ArgumentException($"Tensor '{name}' was added twice.", nameof(name));
        if (dims.Length is 0 or > GgufHeaderReader.MaxDims || dims.Any(d => d <= 0))
            throw new ArgumentException($"Tensor '{name}' has dims [{string.Join(", ", dims)}]; 1 to 4 positive dims are needed.", nameof(dims));
        if (!GgmlTypes.TryGetLayout(type, out int block, out int size)) throw new ArgumentException($"Tensor '{name}': ggml type {type} cannot be written.", nameof(type));
        if (dims[0] % block != 0)
            throw new ArgumentException($"Tensor '{name}' is {type} with rows of {dims[0]}, not a whole number of {block}-element blocks.", nameof(dims));
        long numel = dims.Aggregate(1L, (a, b) => checked(a * b));
        _tensors.Add((name, type, (long[])dims.Clone(), numel / block * size, data));
    }

    /// <summary>Writes the file atomically: a failed write leaves what was at <paramref name="path"/> intact.</summary>
    public void WriteFile(string path) => AtomicFile.Write(path, Write);

    /// <summary>Writes the whole file to <paramref name="stream"/>.</summary>
    public void Write(Stream stream)
    {
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufHeaderReader.Magic);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value.Type, value.Value, key);
        }
        long offset = 0;
        foreach (var t in _tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (long d in t.Dims) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = Align(offset + t.Bytes);
        }
        w.Flush();
        Pad(stream, w);
        foreach (var t in _tensors)
        {
            var bytes = t.Data();
            if (bytes.LongLength != t.Bytes)
                throw new InvalidOperationException($"Tensor '{t.Name}' ({t.Type} [{string.Join(", ", t.Dims)}]) produced {bytes.LongLength:N0} bytes; {t.Bytes:N0} were declared.");
            w.Write(bytes);
            Pad(stream, w);
        }
        w.Flush();
    }

    private long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private void Pad(Stream stream, BinaryWriter w)
    {
        w.Flush();
        long position = stream.Position;
        for (long i = position; i < Align(position); i++) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value, string key)
    {
        try
        {
            switch (type)
            {
                case GgufValueType.UInt8: w.Write(checked((byte)(ulong)value)); break;
                case GgufValueType.Int8: w.Write(checked((sbyte)(long)value)); break;
                case GgufValueType.UInt16: w.Write(checked((ushort)(ulong)value)); break;
                case GgufValueType.Int16: w.Write(checked((short)(long)value)); break;
                case GgufValueType.UInt32: w.Write(checked((uint)(ulong)value)); break;
                case GgufValueType.Int32: w.Write(checked((int)(long)value)); break;
                case GgufValueType.UInt64: w.Write((ulong)value); break;
                case GgufValueType.Int64: w.Write((long)value); break;
                case GgufValueType.Float32: w.Write((float)(double)value); break;
                case GgufValueType.Float64: w.Write((double)value); break;
                case GgufValueType.Bool: w.Write((byte)((bool)value ? 1 : 0)); break;
                case GgufValueType.String: WriteString(w, (string)value); break;
                case GgufValueType.Array:
                    var a = (GgufArray)value;
                    w.Write((uint)a.ElementType);
                    w.Write((ulong)a.Count);
                    foreach (var item in a.Items) WriteValue(w, a.ElementType, item!, key);
                    break;
                default: throw new ArgumentException($"Metadata key '{key}' has value type {(uint)type}, which is not a GGUF type.");
            }
        }
        catch (Exception e) when (e is InvalidCastException or OverflowException or NullReferenceException)
        {
            throw new ArgumentException($"Metadata key '{key}': the value does not fit its type {type}.", e);
        }
    }
}
