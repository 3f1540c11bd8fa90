using PureLlama.Kernels.Simd;

namespace PureLlama.Tensors;

/// <summary>
/// Drops the resident pages of a read-only file mapping (Linux madvise MADV_DONTNEED): they leave the process's
/// resident set, and a later read faults them back in from the page cache or the file. Whole pages inside the
/// range only; elsewhere, or if madvise is missing, nothing happens.
/// </summary>
internal static unsafe class ResidentPages
{
    /// <summary>Drops the whole pages of [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>), a range of a read-only file mapping.</summary>
    public static void DropFileBacked(byte* start, long length)
    {
        if (length <= 0) return;
        ulong page = (ulong)Environment.SystemPageSize;
        ulong from = ((ulong)start + page - 1) & ~(page - 1), to = ((ulong)start + (ulong)length) & ~(page - 1);
        if (to <= from) return;
        LinuxMadvise.TryAdvise((void*)from, (nuint)(to - from), LinuxMadvise.DontNeed);
    }
}
