using System.Runtime.InteropServices;

namespace PureLlama.Tensors;

/// <summary>
/// 64-byte aligned native (anonymous) host memory. The GC is told how much native memory is live, in steps of
/// <see cref="PressureStep"/> with hysteresis, so undisposed tensors still get collected when they pile up (training),
/// while the churn of a decode step — dozens of small tensors allocated and freed, which reported one by one through
/// GC.AddMemoryPressure induced one gen2 GC per token — reports nothing. <see cref="LiveBytes"/> counts everything held.
/// </summary>
internal sealed unsafe class NativeStorage : HostStorage
{
    /// <summary>Alignment of every allocation: one cache line, one Vector512.</summary>
    public const int Alignment = 64;

    /// <summary>Live native bytes are reported to the GC as memory pressure in steps of this size.</summary>
    public const long PressureStep = 32L << 20;

    private static long s_reportedBytes;

    private static long s_liveBytes;
    private static long s_peakBytes;
    private readonly byte* _ptr;

    /// <summary>Allocates <paramref name="byteLength"/> bytes, optionally zeroed.</summary>
    public NativeStorage(long byteLength, bool zero = true) : base(byteLength, isReadOnly: false)
    {
        nuint size = (nuint)Math.Max(byteLength, 1);
        try
        {
            if (Kernels.Simd.HugePages.InWeightScope)   // weights on huge pages
                _ptr = (byte*)(zero ? Kernels.Simd.HugePages.AllocateZeroed(size) : Kernels.Simd.HugePages.Allocate(size));
            else
            {
                _ptr = RecycledBuffers.Shared.TryTake(size) is var recycled && recycled != null ? recycled
                     : (byte*)NativeMemory.AlignedAlloc(size, Alignment);
                if (zero) NativeMemory.Clear(_ptr, size);
            }
        }
        catch (OutOfMemoryException e)
        {
            throw new OutOfMemoryException($"Could not allocate {byteLength:N0} bytes of host memory for a tensor.", e);
        }
        long live = Interlocked.Add(ref s_liveBytes, byteLength);
        ReportPressure(live);
        for (long peak = Interlocked.Read(ref s_peakBytes); live > peak; peak = Interlocked.Read(ref s_peakBytes))
            if (Interlocked.CompareExchange(ref s_peakBytes, live, peak) == peak) break;
    }

    // Reported pressure follows live bytes in whole steps: up once live reaches reported + step, down once it falls below
    // reported − step, so allocations and frees that stay within a step of each other never reach the GC.
    private static void ReportPressure(long live)
    {
        while (true)
        {
            long reported = Interlocked.Read(ref s_reportedBytes);
            long target = live >= reported + PressureStep ? live / PressureStep * PressureStep
                        : live < reported - PressureStep ? (live / PressureStep + 1) * PressureStep
                        : reported;
            if (target == reported) return;
            if (Interlocked.CompareExchange(ref s_reportedBytes, target, reported) != reported) continue;
            if (target > reported) GC.AddMemoryPressure(target - reported);
            else GC.RemoveMemoryPressure(reported - target);
            return;
        }
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
        if (!RecycledBuffers.Shared.TryKeep(_ptr, (nuint)Math.Max(ByteLength, 1))) Kernels.Simd.HugePages.Free(_ptr);
        ReportPressure(Interlocked.Add(ref s_liveBytes, -ByteLength));
    }
}
