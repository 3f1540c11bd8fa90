using System.Runtime.InteropServices;

namespace PureLlama.Tensors;

/// <summary>
/// 64-byte aligned native (anonymous) host memory. The GC is told about allocations of at least
/// <see cref="PressureThreshold"/> so undisposed large tensors still get collected under pressure; smaller ones are
/// not reported: every GC.AddMemoryPressure can induce a full collection, and a decode step's dozens of small
/// transient tensors (activations, logits) made one gen2 GC per token. <see cref="LiveBytes"/> counts everything held.
/// </summary>
internal sealed unsafe class NativeStorage : HostStorage
{
    /// <summary>Alignment of every allocation: one cache line, one Vector512.</summary>
    public const int Alignment = 64;

    /// <summary>Allocations from this size on are reported to the GC as memory pressure.</summary>
    public const long PressureThreshold = 16L << 20;

    private static long s_liveBytes;
    private static long s_peakBytes;
    private readonly byte* _ptr;

    /// <summary>Allocates <paramref name="byteLength"/> bytes, optionally zeroed.</summary>
    public NativeStorage(long byteLength, bool zero = true) : base(byteLength, isReadOnly: false)
    {
        nuint size = (nuint)Math.Max(byteLength, 1);
        try
        {
            _ptr = (byte*)(Kernels.Simd.HugePages.InWeightScope ? Kernels.Simd.HugePages.Allocate(size) : NativeMemory.AlignedAlloc(size, Alignment));   // weights on huge pages
        }
        catch (OutOfMemoryException e)
        {
            throw new OutOfMemoryException($"Could not allocate {byteLength:N0} bytes of host memory for a tensor.", e);
        }
        if (zero) NativeMemory.Clear(_ptr, size);
        if (byteLength >= PressureThreshold) GC.AddMemoryPressure(byteLength);
        long live = Interlocked.Add(ref s_liveBytes, byteLength);
        for (long peak = Interlocked.Read(ref s_peakBytes); live > peak; peak = Interlocked.Read(ref s_peakBytes))
            if (Interlocked.CompareExchange(ref s_peakBytes, live, peak) == peak) break;
    }

    /// <summary>Highest <see cref="LiveBytes"/> since the process started or the last <see cref="ResetPeak"/>.</summary>
    public static long PeakLiveBytes => Interlocked.Read(ref s_peakBytes);

    /// <summary>Restarts <see cref="PeakLiveBytes"/> from the bytes live now.</summary>
    public static void ResetPeak() => Interlocked.Exchange(ref s_peakBytes, LiveBytes);

    /// <summary>Bytes currently held by all live native storages in this process.</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <inheritdoc/>
    public override byte* Pointer => IsReleased ? throw new ObjectDisposedException(nameof(NativeStorage)) : _ptr;

    protected override void ReleaseMemory(bool disposing)
    {
        Kernels.Simd.HugePages.Free(_ptr);
        if (ByteLength >= PressureThreshold) GC.RemoveMemoryPressure(ByteLength);
        Interlocked.Add(ref s_liveBytes, -ByteLength);
    }
}
