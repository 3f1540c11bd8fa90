using System.Runtime.InteropServices;

namespace PureLlama.Kernels.Simd;

/// <summary>Linux madvise(2) on a range of this process's memory; a no-op (false) elsewhere or without libc's madvise.</summary>
internal static unsafe partial class LinuxMadvise
{
    /// <summary>MADV_DONTNEED: the pages leave the resident set (a file mapping's are read back on the next access).</summary>
    public const int DontNeed = 4;

    /// <summary>MADV_HUGEPAGE: back the range with transparent huge pages where the kernel can.</summary>
    public const int HugePage = 14;

    /// <summary>Advises [<paramref name="address"/>, +<paramref name="length"/>); true when the kernel accepted it.</summary>
    public static bool TryAdvise(void* address, nuint length, int advice)
    {
        if (!OperatingSystem.IsLinux() || length == 0) return false;
        try { return Madvise(address, length, advice) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
