using System.Runtime.Intrinsics;
using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>
/// The SIMD CPU backend: host tensors in 64-byte aligned native memory (or read-only mapped files),
/// each op validated here and computed by one kernel of <c>PureLlama.Kernels.Simd</c>.
/// Split by op family over the partial files beside this one.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    /// <inheritdoc/>
    public string Name => $"cpu ({(Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "scalar")}, {Kernels.Simd.SimdThreading.MaxThreads} threads)";

    /// <inheritdoc/>
    public Device Device => Device.Cpu;

    /// <inheritdoc/>
    public Storage Allocate(long byteLength) => new NativeStorage(byteLength, zero: true);

    /// <inheritdoc/>
    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination)
    {
        Check.OnDevice(this, destination, nameof(destination));
        Check.Contiguous(destination, nameof(destination));
        if (destination.Storage.IsReadOnly) throw new InvalidOperationException($"{destination.Describe()} is read-only (a mapped file).");
        if (source.Length != destination.ByteLength) throw new ArgumentException($"{source.Length} bytes cannot fill {destination.Describe()} ({destination.ByteLength} bytes).");
        source.CopyTo(new Span<byte>(destination.Pointer<byte>(), source.Length));
    }

    /// <inheritdoc/>
    public void CopyToHost(Tensor source, Span<byte> destination)
    {
        Check.OnDevice(this, source, nameof(source));
        Check.Contiguous(source, nameof(source));
        if (destination.Length != source.ByteLength) throw new ArgumentException($"{source.Describe()} has {source.ByteLength} bytes, the destination {destination.Length}.");
        new ReadOnlySpan<byte>(source.Pointer<byte>(), destination.Length).CopyTo(destination);
    }

    /// <inheritdoc/>
    public void Synchronize() { }

    /// <inheritdoc/>
    public void Dispose() { }
}
