using System.Globalization;

namespace PureLlama.Cli.Bench;

/// <summary>The process's peak resident set (Linux VmHWM), resettable so one phase (loading, generating) can be measured alone.</summary>
internal static class PeakRss
{
    /// <summary>Resets the peak to the current RSS (writes 5 to /proc/self/clear_refs); false where that is not possible.</summary>
    public static bool Reset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Peak RSS in bytes since the last <see cref="Reset"/> (or process start).</summary>
    public static long Bytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64;
    }
}
