using ILGPU;
using ILGPU.Runtime;
using PureLlama.Tensors;
using Device = PureLlama.Tensors.Device;

namespace PureLlama.Compute;

/// <summary>
/// Tensor memory on an ILGPU accelerator: a pooled device buffer. Releasing it (last tensor
/// disposed, or finalized) returns the buffer to the backend's pool for reuse.
/// </summary>
internal sealed class IlgpuStorage : Storage
{
    private readonly DeviceBufferPool _pool;
    private readonly MemoryBuffer1D<byte, Stride1D.Dense> _buffer;

    internal IlgpuStorage(DeviceBufferPool pool, MemoryBuffer1D<byte, Stride1D.Dense> buffer, long byteLength, Device device)
        : base(byteLength, device, isReadOnly: false)
    {
        _pool = pool;
        _buffer = buffer;
    }

    /// <summary>The storage's bytes as a device view (exactly <see cref="Storage.ByteLength"/> long).</summary>
    public ArrayView<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsReleased, this);
            return _buffer.View.SubView(0, ByteLength);
        }
    }

    /// <summary>
    /// A typed view of <paramref name="count"/> elements starting at element <paramref name="elementOffset"/>.
    /// </summary>
    public ArrayView<T> View<T>(long elementOffset, long count) where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (count == 0) return Bytes.SubView(0, 0).Cast<T>();
        return Bytes.SubView(elementOffset * size, count * size).Cast<T>();
    }

    // On the finalizer thread the ILGPU buffer may already be finalized (freed): it must not go back
    // to the pool then; its own finalizer releases the device memory.
    protected override void ReleaseMemory(bool disposing)
    {
        if (disposing) _pool.Return(_buffer);
    }
}
