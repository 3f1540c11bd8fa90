using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Compute;

/// <summary>
/// Reuses device buffers so a steady loop (decode, a training step) allocates nothing after its
/// first iteration. Requests are rounded up to a size class (4 classes per power of two, so at
/// most 25% slack; 256 bytes minimum) and released buffers wait on a free list of their class.
/// When the device runs out of memory the free lists are emptied and the allocation retried.
/// Thread-safe.
/// </summary>
internal sealed class DeviceBufferPool : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly Dictionary<long, Stack<MemoryBuffer1D<byte, Stride1D.Dense>>> _free = [];
    private readonly object _gate = new();
    private bool _disposed;

    public DeviceBufferPool(Accelerator accelerator) => _accelerator = accelerator;

    /// <summary>Bytes held in free lists (allocated on the device, not in use).</summary>
    public long CachedBytes { get; private set; }

    /// <summary>Bytes handed out and not yet returned.</summary>
    public long InUseBytes { get; private set; }

    /// <summary>Device allocations made so far (a steady loop stops increasing this).</summary>
    public long Allocations { get; private set; }

    /// <summary>The size class of a request.</summary>
    public static long SizeClass(long bytes)
    {
        if (bytes <= 256) return 256;
        int log = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1));
        long step = Math.Max(256, 1L << (log - 2));
        return (bytes + step - 1) / step * step;
    }

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes (contents undefined).</summary>
    public MemoryBuffer1D<byte, Stride1D.Dense> Rent(long bytes)
    {
        long size = SizeClass(bytes);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            InUseBytes += size;
            if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                CachedBytes -= size;
                return stack.Pop();
            }
        }
        try
        {
            return AllocateNew(size);
        }
        catch (Exception first) when (first is OutOfMemoryException or AcceleratorException)
        {
            Trim();
            try
            {
                return AllocateNew(size);
            }
            catch (Exception ex) when (ex is OutOfMemoryException or AcceleratorException)
            {
                lock (_gate) InUseBytes -= size;
                throw new OutOfMemoryException(
                    $"Could not allocate {bytes:N0} bytes on {_accelerator.Name} ({InUseBytes:N0} bytes in use by tensors).", ex);
            }
        }
    }

    private MemoryBuffer1D<byte, Stride1D.Dense> AllocateNew(long size)
    {
        var buffer = _accelerator.Allocate1D<byte>(size);
        lock (_gate) Allocations++;
        return buffer;
    }

    /// <summary>Gives a buffer back for reuse (or frees it when the pool is gone).</summary>
    public void Return(MemoryBuffer1D<byte, Stride1D.Dense> buffer)
    {
        long size = buffer.Length;
        lock (_gate)
        {
            InUseBytes -= size;
            if (!_disposed)
            {
                if (!_free.TryGetValue(size, out var stack)) _free[size] = stack = new Stack<MemoryBuffer1D<byte, Stride1D.Dense>>();
                stack.Push(buffer);
                CachedBytes += size;
                return;
            }
        }
        SafeDispose(buffer);
    }

    /// <summary>Frees every cached buffer.</summary>
    public void Trim()
    {
        List<MemoryBuffer1D<byte, Stride1D.Dense>> all = [];
        lock (_gate)
        {
            foreach (var stack in _free.Values) all.AddRange(stack);
            _free.Clear();
            CachedBytes = 0;
        }
        foreach (var b in all) SafeDispose(b);
    }

    private static void SafeDispose(MemoryBuffer1D<byte, Stride1D.Dense> buffer)
    {
        try { buffer.Dispose(); }
        catch (Exception) { /* the accelerator is gone: its memory went with it */ }
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        Trim();
    }
}
