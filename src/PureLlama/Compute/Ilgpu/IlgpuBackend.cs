using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;
using Device = PureLlama.Tensors.Device;

namespace PureLlama.Compute;

/// <summary>
/// The ILGPU backend: tensors in pooled device buffers (<see cref="IlgpuStorage"/>), each op
/// validated on the host and computed by one GPU kernel of <c>PureLlama.Kernels.Gpu</c> queued on
/// one stream. Runs on CUDA (<c>--device cuda</c>) or, for tests, on ILGPU's CPU accelerator
/// (<c>--device ilgpu-cpu</c>). Kernels compile on first use and stay cached per accelerator.
/// Split by op family over the partial files beside this one.
/// </summary>
public sealed partial class IlgpuBackend : IBackend
{
    private readonly DeviceBufferPool _pool;
    private int _disposed;

    /// <summary>Creates the backend on a new accelerator of <paramref name="kind"/> (CUDA or ILGPU's CPU accelerator).</summary>
    public IlgpuBackend(DeviceKind kind)
    {
        GpuKind = kind switch
        {
            DeviceKind.Cuda => GpuDeviceKind.Cuda,
            DeviceKind.IlgpuCpu => GpuDeviceKind.IlgpuCpu,
            _ => throw new ArgumentException($"IlgpuBackend runs on cuda or ilgpu-cpu, not {new Device(kind)}.", nameof(kind)),
        };
        Device = new Device(kind);
        try
        {
            Accelerator = GpuContext.CreateAccelerator(GpuKind);
        }
        catch (GpuDeviceNotFoundException ex)
        {
            throw new DeviceUnavailableException(ex.Message, ex);
        }
        Stream = Accelerator.DefaultStream;
        _pool = new DeviceBufferPool(Accelerator);
    }

    /// <summary>True when <paramref name="kind"/> can be created here (ilgpu-cpu always; cuda with a device).</summary>
    public static bool IsAvailable(DeviceKind kind) => kind switch
    {
        DeviceKind.IlgpuCpu => true,
        DeviceKind.Cuda => GpuContext.HasCuda,
        _ => false,
    };

    /// <summary>Which ILGPU accelerator this is.</summary>
    public GpuDeviceKind GpuKind { get; }

    /// <summary>The accelerator the kernels run on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The stream every op is queued on (in order).</summary>
    public AcceleratorStream Stream { get; }

    /// <summary>
    /// Whether ids, positions and targets are range-checked on the host before gather/RoPE/
    /// cross-entropy (copies them back, a small synchronising transfer). On by default.
    /// </summary>
    public bool ValidateIndices { get; set; } = true;

    /// <summary>Device allocations made so far; a steady loop stops increasing this (buffers are pooled).</summary>
    public long DeviceAllocations => _pool.Allocations;

    /// <summary>Bytes of device memory held by live tensors.</summary>
    public long BytesInUse => _pool.InUseBytes;

    /// <summary>Bytes of device memory cached for reuse.</summary>
    public long BytesCached => _pool.CachedBytes;

    /// <inheritdoc/>
    public string Name => $"{Device} ({Accelerator.Name})";

    /// <inheritdoc/>
    public Device Device { get; }

    /// <summary>Frees the device memory cached for reuse.</summary>
    public void TrimPool() => _pool.Trim();

    /// <inheritdoc/>
    public Storage Allocate(long byteLength)
    {
        Enter();
        var buffer = _pool.Rent(Math.Max(byteLength, 1));
        var storage = new IlgpuStorage(_pool, buffer, byteLength, Device);
        if (byteLength > 0) storage.Bytes.MemSetToZero(Stream);
        return storage;
    }

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination)
    {
        Check.OnDevice(this, destination, nameof(destination));
        Check.Contiguous(destination, nameof(destination));
        Check.Writable(destination, nameof(destination));
        if (source.Length != destination.ByteLength) throw new ArgumentException($"{source.Length} bytes cannot fill {destination.Describe()} ({destination.ByteLength} bytes).");
        if (source.Length == 0) return;
        Enter();
        Raw(destination).CopyFromCPU(Stream, source);
    }

    /// <inheritdoc/>
    public void CopyToHost(Tensor source, Span<byte> destination)
    {
        Check.OnDevice(this, source, nameof(source));
        Check.Contiguous(source, nameof(source));
        if (destination.Length != source.ByteLength) throw new ArgumentException($"{source.Describe()} has {source.ByteLength} bytes, the destination {destination.Length}.");
        if (destination.Length == 0) return;
        Enter();
        Raw(source).CopyToCPU(Stream, destination);
        Stream.Synchronize();
    }

    /// <inheritdoc/>
    public void Synchronize()
    {
        Enter();
        Stream.Synchronize();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { Accelerator.Synchronize(); } catch (Exception) { /* already broken: free anyway */ }
        _dynamicMapTables?.Dispose();
        _pool.Dispose();
        Accelerator.Dispose();
    }

    // ---- helpers ------------------------------------------------------------------------------

    /// <summary>Makes the accelerator current on this thread (CUDA contexts are per thread).</summary>
    private void Enter()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Accelerator.AcceleratorType == AcceleratorType.Cuda) Accelerator.Bind();
    }

    private static IlgpuStorage StorageOf(Tensor t) => t.Storage as IlgpuStorage
        ?? throw new ArgumentException($"{t.Describe()} is not in ILGPU device memory.");

    /// <summary>The bytes of a contiguous tensor.</summary>
    private static ArrayView<byte> Raw(Tensor t) => StorageOf(t).View<byte>(t.Offset * t.DType.SizeOf(), t.ByteLength);

    /// <summary>The elements of a contiguous F32 tensor.</summary>
    private ArrayView<float> F(Tensor t)
    {
        Enter();
        return StorageOf(t).View<float>(t.Offset, t.Numel);
    }

    /// <summary>The elements of a contiguous 16-bit tensor (BF16/F16 bits).</summary>
    private static ArrayView<ushort> U16(Tensor t) => StorageOf(t).View<ushort>(t.Offset, t.Numel);

    /// <summary>The elements of a contiguous I32 tensor.</summary>
    private static ArrayView<int> I32(Tensor t) => StorageOf(t).View<int>(t.Offset, t.Numel);

    /// <summary>Copies a small I32 tensor back to the host (for range checks).</summary>
    private int[] ReadInts(Tensor t)
    {
        var host = new int[t.Numel];
        CopyToHost(t, MemoryMarshal.AsBytes(host.AsSpan()));
        return host;
    }

    private unsafe void CheckIndices(Tensor ids, int n, int limit, string what, string limitName)
    {
        if (!ValidateIndices || n == 0) return;
        var host = ReadInts(ids);
        fixed (int* p = host) LayerChecks.IndicesInRange(p, n, limit, what, limitName);
    }

    private unsafe void CheckTargets(Tensor targets, int rows, int vocab, int ignoreIndex)
    {
        if (!ValidateIndices || rows == 0) return;
        var host = ReadInts(targets);
        fixed (int* p = host) LayerChecks.TargetsInRange(p, rows, vocab, ignoreIndex);
    }
}
