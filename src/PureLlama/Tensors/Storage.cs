namespace PureLlama.Tensors;

/// <summary>
/// A block of memory on one device that tensors view. Reference-counted: each tensor that views it
/// retains it, and the memory is released when the last one is disposed (or, as a safety net,
/// when the storage is finalized).
/// </summary>
public abstract class Storage : IDisposable
{
    private int _refCount;
    private int _released;

    protected Storage(long byteLength, Device device, bool isReadOnly)
    {
        if (byteLength < 0) throw new ArgumentOutOfRangeException(nameof(byteLength));
        ByteLength = byteLength;
        Device = device;
        IsReadOnly = isReadOnly;
    }

    /// <summary>Size in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>The device holding the memory.</summary>
    public Device Device { get; }

    /// <summary>True for memory-mapped file regions and other memory that must not be written.</summary>
    public bool IsReadOnly { get; }

    /// <summary>True once the memory has been released.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    internal void Retain()
    {
        if (IsReleased) throw new ObjectDisposedException(GetType().Name, "The storage was already released.");
        Interlocked.Increment(ref _refCount);
    }

    internal void ReleaseRef()
    {
        if (Interlocked.Decrement(ref _refCount) <= 0) Dispose();
    }

    /// <summary>Releases the memory now, whoever still views it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        ReleaseMemory(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Frees the underlying memory; called exactly once. <paramref name="disposing"/> is false on the
    /// finalizer thread, where managed objects this storage holds may already have been finalized.
    /// </summary>
    protected abstract void ReleaseMemory(bool disposing);

    ~Storage()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) ReleaseMemory(disposing: false);
    }
}

/// <summary>Storage in host memory, addressable by a raw pointer.</summary>
internal abstract unsafe class HostStorage : Storage
{
    protected HostStorage(long byteLength, bool isReadOnly) : base(byteLength, Device.Cpu, isReadOnly) { }

    /// <summary>Start of the memory.</summary>
    public abstract byte* Pointer { get; }
}
