using System.IO.MemoryMappedFiles;

namespace PureLlama.Tensors;

/// <summary>
/// A read-only memory-mapped region of a file (for example the data section of a safetensors
/// file). Loading is instant and lean; pages are read from disk on first touch.
/// </summary>
internal sealed unsafe class MappedStorage : HostStorage
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;

    private MappedStorage(MemoryMappedFile file, MemoryMappedViewAccessor view, long offset, long length)
        : base(length, isReadOnly: true)
    {
        _file = file;
        _view = view;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + view.PointerOffset;
        Path = "";
        _ = offset;
    }

    /// <summary>The mapped file.</summary>
    public string Path { get; private init; }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="path"/> starting at <paramref name="offset"/>.</summary>
    public static MappedStorage Open(string path, long offset, long length)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"Cannot map '{path}': the file does not exist.", path);
        long size;                                         // of the file itself: FileInfo.Length of a symlink (Hugging Face cache) is the link's
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read)) size = RandomAccess.GetLength(handle);
        if (offset < 0 || length < 0 || offset + length > size)
            throw new InvalidDataException($"Cannot map bytes [{offset}, {offset + length}) of '{path}': the file has only {size} bytes.");
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = file.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
            return new MappedStorage(file, view, offset, length) { Path = path };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Takes the pages of bytes [offset, offset + length) out of the process's resident set; reads fault them back in.</summary>
    public void DropResident(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > ByteLength) throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + length}) is outside the {ByteLength} mapped bytes.");
        ResidentPages.DropFileBacked(Pointer + offset, length);
    }

    /// <inheritdoc/>
    public override byte* Pointer => IsReleased ? throw new ObjectDisposedException(nameof(MappedStorage)) : _base;

    protected override void ReleaseMemory(bool disposing)
    {
        if (!disposing) return; // the view's and file's own safe handles release them when finalized
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
