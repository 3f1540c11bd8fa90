using Microsoft.Win32.SafeHandles;
using PureLlama.Tensors;

namespace PureLlama.IO;

/// <summary>
/// An open safetensors file whose tensors are in host memory: either memory-mapped (zero-copy,
/// read-only views on one <see cref="MappedStorage"/> of the data section) or copied into 64-byte
/// aligned <see cref="NativeStorage"/>, one per tensor, with large sequential reads. The header is
/// fully validated on open (see <see cref="SafeTensorsHeader"/>). <see cref="GetTensor"/> returns a
/// new tensor view the caller disposes; the memory lives until this file and every view are disposed.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private const int ReadChunk = 1 << 30;

    private readonly MappedStorage? _mapped;
    private readonly Dictionary<string, Storage> _copied = new(StringComparer.Ordinal);
    private bool _disposed;

    private SafeTensorsFile(SafeTensorsHeader header, WeightLoading loading, MappedStorage? mapped)
    {
        Header = header;
        Loading = loading;
        _mapped = mapped;
    }

    /// <summary>The file.</summary>
    public string Path => Header.Path;

    /// <summary>How the tensor data was brought into memory.</summary>
    public WeightLoading Loading { get; }

    /// <summary>The validated header.</summary>
    public SafeTensorsHeader Header { get; }

    /// <summary>The tensors, sorted by name.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors => Header.Tensors;

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>True when the file holds a tensor of that name.</summary>
    public bool Contains(string name) => Header.Contains(name);

    /// <summary>The header entry of a tensor.</summary>
    /// <exception cref="ArgumentException">No tensor of that name is in the file.</exception>
    public SafeTensorInfo Info(string name)
    {
        if (!Header.TryGet(name, out var info))
            throw new ArgumentException($"Safetensors file '{Path}' has no tensor '{name}'.", nameof(name));
        return info;
    }

    /// <summary>
    /// Opens and validates <paramref name="path"/>, bringing its tensor data into memory as
    /// <paramref name="loading"/> says (tensors of unsupported dtypes are validated but not loaded).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, truncated, or its header lies.</exception>
    public static SafeTensorsFile Open(string path, WeightLoading loading = WeightLoading.Copied)
    {
        if (loading is not (WeightLoading.Copied or WeightLoading.Mapped))
            throw new ArgumentException($"Unknown weight loading mode {loading}.", nameof(loading));
        var header = SafeTensorsHeader.Read(path);
        if (loading == WeightLoading.Mapped)
        {
            MappedStorage? mapped = header.DataLength > 0 ? MappedStorage.Open(path, header.DataStart, header.DataLength) : null;
            mapped?.Retain(); // the file's own hold; views add theirs
            return new SafeTensorsFile(header, loading, mapped);
        }
        var file = new SafeTensorsFile(header, loading, null);
        try
        {
            file.CopyAll();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads every supported tensor into its own aligned native block, in file order.</summary>
    private void CopyAll()
    {
        using SafeFileHandle handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        foreach (var t in Header.Tensors.Where(t => t.IsSupported).OrderBy(t => t.DataBegin))
        {
            var storage = new NativeStorage(t.ByteLength, zero: false);
            storage.Retain();
            _copied[t.Name] = storage;
            ReadInto(handle, Header.DataStart + t.DataBegin, storage.Pointer, t.ByteLength, t.Name);
        }
    }

    private void ReadInto(SafeFileHandle handle, long fileOffset, byte* destination, long length, string tensor)
    {
        long done = 0;
        while (done < length)
        {
            int want = (int)Math.Min(ReadChunk, length - done);
            int got = RandomAccess.Read(handle, new Span<byte>(destination + done, want), fileOffset + done);
            if (got <= 0)
                throw new InvalidDataException($"Safetensors file '{Path}' ended while reading tensor '{tensor}' ({done:N0} of {length:N0} bytes read): was it truncated while open?");
            done += got;
        }
    }

    /// <summary>
    /// A new tensor viewing the named tensor's data (contiguous, on the CPU; read-only when mapped).
    /// The caller disposes it; disposing the file does not invalidate it.
    /// </summary>
    /// <exception cref="ArgumentException">No tensor of that name is in the file.</exception>
    /// <exception cref="InvalidDataException">The tensor's dtype is not one PureLlama supports.</exception>
    public Tensor GetTensor(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = Info(name);
        if (info.DType is not DType dtype)
            throw new InvalidDataException($"Unsupported dtype {info.DTypeName} for tensor '{name}' in file '{Path}' (supported: F32, BF16, F16, I8, U8, I32).");
        var shape = info.Shape;
        if (Loading == WeightLoading.Copied)
            return new Tensor(_copied[name], shape, shape.ContiguousStrides(), 0, dtype) { Name = name };
        int size = dtype.SizeOf();
        if (info.ByteLength == 0 || _mapped is null)
            return Tensor.Empty(shape, dtype).Named(name);
        if (info.DataBegin % size == 0)
            return new Tensor(_mapped, shape, shape.ContiguousStrides(), info.DataBegin / size, dtype) { Name = name };
        // A tensor not aligned to its element size cannot be viewed in place: copy it.
        var copy = new NativeStorage(info.ByteLength, zero: false);
        Buffer.MemoryCopy(_mapped.Pointer + info.DataBegin, copy.Pointer, info.ByteLength, info.ByteLength);
        return new Tensor(copy, shape, shape.ContiguousStrides(), 0, dtype) { Name = name };
    }

    /// <summary>
    /// The named tensor in memory of its own: when the file is memory-mapped, its bytes are read with a
    /// file read into fresh aligned native memory, so they never count as mapped pages of this process
    /// and are freed when the tensor is disposed (quantize-on-load reads each dense weight this way).
    /// When the file is copied, this is <see cref="GetTensor"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No tensor of that name is in the file.</exception>
    /// <exception cref="InvalidDataException">Unsupported dtype, or the file was truncated.</exception>
    public Tensor ReadCopy(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Loading == WeightLoading.Copied) return GetTensor(name);
        var info = Info(name);
        if (info.DType is not DType dtype)
            throw new InvalidDataException($"Unsupported dtype {info.DTypeName} for tensor '{name}' in file '{Path}' (supported: F32, BF16, F16, I8, U8, I32).");
        var storage = new NativeStorage(info.ByteLength, zero: false);
        var t = new Tensor(storage, info.Shape, info.Shape.ContiguousStrides(), 0, dtype) { Name = name };
        try
        {
            using SafeFileHandle handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            ReadInto(handle, Header.DataStart + info.DataBegin, storage.Pointer, info.ByteLength, name);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Releases the file's hold on the tensor memory; views still in use keep theirs.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _mapped?.ReleaseRef();
        foreach (var s in _copied.Values) s.ReleaseRef();
        _copied.Clear();
    }
}

internal static class TensorNaming
{
    public static Tensor Named(this Tensor t, string name)
    {
        t.Name = name;
        return t;
    }
}
