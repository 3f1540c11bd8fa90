// Large buffers (weights, repacked tiles) on 2 MiB transparent huge pages where Linux offers them. A decode step
// streams ~1 GB of weights: with 4 KiB pages that is ~250 000 TLB misses per token, with 2 MiB pages ~500, and the
// hardware prefetchers, which stop at 4 KiB page boundaries, run on. Linux's default THP mode ("madvise") gives huge
// pages only to regions that ask, so buffers of at least 2 MiB are 2 MiB-aligned and their whole huge pages marked with
// madvise(MADV_HUGEPAGE) before first touch; the tail under 2 MiB stays on small pages, so nothing is rounded up and
// no memory is added (a 2.1 MiB tile set would otherwise take 4 MiB). Elsewhere, or if madvise fails, ordinary memory.
// Only weights ask: the repacked tiles always, tensors while a model loads (ForWeights scope). Transient buffers of
// training and inference do not: they are not streamed per token, and fresh huge pages can be slow to fault in (on VMs
// that return freed memory to the host, ~6–8 s per GiB).
using System.Runtime.InteropServices;

namespace PureLlama.Kernels.Simd;

/// <summary>Allocation of large 64-byte-aligned buffers on transparent huge pages (Linux), freed with <see cref="Free"/>.</summary>
internal static unsafe class HugePages
{
    /// <summary>The huge page size asked for (x86-64 Linux).</summary>
    public const nuint PageSize = 2u << 20;

    /// <summary>Whether large buffers are marked for huge pages (Linux, unless PURELLAMA_HUGE_PAGES=0).</summary>
    public static bool Enabled { get; } = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("PURELLAMA_HUGE_PAGES") != "0";

    [ThreadStatic] private static int t_weightScopes;

    /// <summary>True on this thread inside a <see cref="ForWeights"/> scope (tensors allocated there are weights).</summary>
    public static bool InWeightScope => t_weightScopes > 0;

    /// <summary>Marks this thread's tensor allocations as weights (huge pages) until disposed; scopes nest.</summary>
    public static WeightScope ForWeights()
    {
        t_weightScopes++;
        return new WeightScope();
    }

    /// <summary>The end of a <see cref="ForWeights"/> scope.</summary>
    public readonly struct WeightScope : IDisposable
    {
        public void Dispose() => t_weightScopes--;
    }

    /// <summary><paramref name="bytes"/> of uninitialised memory, 64-byte aligned (2 MiB-aligned on huge pages when large).</summary>
    public static void* Allocate(nuint bytes)
    {
        if (!Enabled || bytes < PageSize) return NativeMemory.AlignedAlloc(bytes, 64);
        void* p = NativeMemory.AlignedAlloc(bytes, PageSize);
        LinuxMadvise.TryAdvise(p, bytes & ~(PageSize - 1), LinuxMadvise.HugePage);   // refused: ordinary pages
        return p;
    }

    /// <summary>
    /// <paramref name="bytes"/> of zeroed memory as <see cref="Allocate"/> gives it. Large buffers are zeroed by all
    /// threads in 2 MiB pieces: zeroing is what first touches the pages, and the page faults (the kernel clearing each
    /// page, on a VM the host backing it) run about twice as fast on two threads as on one.
    /// </summary>
    public static void* AllocateZeroed(nuint bytes)
    {
        byte* p = (byte*)Allocate(bytes);
        long pieces = (long)((bytes + PageSize - 1) / PageSize);
        if (pieces < 4) NativeMemory.Clear(p, bytes);
        else Parallel.For(0L, pieces, i =>
        {
            nuint start = (nuint)i * PageSize;
            NativeMemory.Clear(p + start, Math.Min(PageSize, bytes - start));
        });
        return p;
    }

    /// <summary>Frees a buffer from <see cref="Allocate"/>.</summary>
    public static void Free(void* p) => NativeMemory.AlignedFree(p);
}
