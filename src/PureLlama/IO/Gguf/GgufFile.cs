using PureLlama.Kernels.Blocks;
using PureLlama.Tensors;

namespace PureLlama.IO.Gguf;

/// <summary>
/// An open GGUF file: the validated header (<see cref="GgufHeaderReader"/>) and its data section
/// memory-mapped (<see cref="MappedStorage"/>). <see cref="Bytes"/> gives a tensor's raw bytes (blocks as
/// stored); <see cref="GetDense"/> gives an F32/F16/BF16 tensor in row-major shape (the ggml dims
/// reversed), viewing the mapping or, with <see cref="WeightLoading.Copied"/>, copied into native memory.
/// </summary>
internal sealed unsafe class GgufFile : IDisposable
{
    private readonly MappedStorage? _mapped;
    private bool _disposed;

    private GgufFile(GgufHeader header, WeightLoading loading, MappedStorage? mapped)
    {
        Header = header; Loading = loading; _mapped = mapped;
    }

    public GgufHeader Header { get; }
    public WeightLoading Loading { get; }
    public string Path => Header.Path;
    public IReadOnlyList<GgufTensorInfo> Tensors => Header.Tensors;

    /// <summary>Opens and validates <paramref name="path"/> and maps its data section.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid GGUF file.</exception>
    public static GgufFile Open(string path, WeightLoading loading = WeightLoading.Copied)
    {
        var header = GgufHeaderReader.Read(path);
        var mapped = header.DataLength > 0 ? MappedStorage.Open(path, header.DataOffset, header.DataLength) : null;
        mapped?.Retain();
        return new GgufFile(header, loading, mapped);
    }

    /// <summary>True when <paramref name="path"/> names a file that starts with the GGUF magic.</summary>
    public static bool IsGguf(string path)
    {
        if (!File.Exists(path)) return false;
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        Span<byte> magic = stackalloc byte[4];
        return f.Length >= 4 && f.Read(magic) == 4 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(magic) == GgufHeaderReader.Magic;
    }

    /// <summary>The stored bytes of a tensor (read-only, valid while this file is open).</summary>
    public ReadOnlySpan<byte> Bytes(GgufTensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (t.ByteLength == 0) return default;
        if (t.ByteLength > int.MaxValue) throw new InvalidDataException($"Tensor '{t.Name}' in GGUF file '{Path}' has {t.ByteLength:N0} bytes, more than one span holds.");
        return new ReadOnlySpan<byte>(_mapped!.Pointer + t.Offset, (int)t.ByteLength);
    }

    /// <summary>The dtype of a tensor PureLlama keeps dense (F32, F16, BF16), or null.</summary>
    public static DType? DenseDType(GgmlType type) => type switch
    {
        GgmlType.F32 => DType.F32,
        GgmlType.F16 => DType.F16,
        GgmlType.BF16 => DType.BF16,
        _ => null,
    };

    /// <summary>A new tensor over an F32/F16/BF16 tensor, in row-major shape (ggml dims reversed). The caller disposes it.</summary>
    /// <exception cref="InvalidDataException">The tensor is absent or of a block type.</exception>
    public Tensor GetDense(string name)
    {
        var t = Header.Tensor(name);
        if (DenseDType(t.Type) is not DType dtype)
            throw new InvalidDataException($"Tensor '{name}' in GGUF file '{Path}' is {GgmlTypes.Name(t.Type)}, not F32, F16 or BF16.");
        return View(t, new Shape(t.RowMajorShape()), dtype);
    }

    /// <summary>A new U8 tensor [ByteLength] over a tensor's stored bytes (blocks as stored). The caller disposes it.</summary>
    public Tensor GetRaw(string name)
    {
        var t = Header.Tensor(name);
        return View(t, new Shape(checked((int)t.ByteLength)), DType.U8);
    }

    /// <summary>
    /// A new U8 tensor [ByteLength] viewing a tensor's stored bytes in the mapping whatever <see cref="Loading"/> says (for
    /// blocks that only feed a repack or an upload, or are read a few rows at a time). It keeps the mapping alive: the
    /// file must not be truncated or rewritten in place while the view lives. The caller disposes it.
    /// </summary>
    public Tensor GetRawView(string name)
    {
        var t = Header.Tensor(name);
        return View(t, new Shape(checked((int)t.ByteLength)), DType.U8, mapped: true);
    }

    /// <summary>Takes a tensor's pages of the mapping out of the process's resident set (they are read back on demand).</summary>
    public void DropResident(GgufTensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _mapped?.DropResident(t.Offset, t.ByteLength);
    }

    // A view of the mapping (mapped loading or asked for, element-aligned) or a copy in native memory.
    private Tensor View(GgufTensorInfo t, Shape shape, DType dtype, bool mapped = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (t.ByteLength == 0 || _mapped is null) return Tensor.Empty(shape, dtype).Named(t.Name);
        if ((mapped || Loading == WeightLoading.Mapped) && t.Offset % dtype.SizeOf() == 0)
            return new Tensor(_mapped, shape, shape.ContiguousStrides(), t.Offset / dtype.SizeOf(), dtype) { Name = t.Name };
        var copy = new NativeStorage(t.ByteLength, zero: false);
        Buffer.MemoryCopy(_mapped.Pointer + t.Offset, copy.Pointer, t.ByteLength, t.ByteLength);
        _mapped.DropResident(t.Offset, t.ByteLength);   // the copy holds them now: the file's pages need not stay resident too
        return new Tensor(copy, shape, shape.ContiguousStrides(), 0, dtype) { Name = t.Name };
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _mapped?.ReleaseRef();
    }
}
