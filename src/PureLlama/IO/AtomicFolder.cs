using System.Runtime.InteropServices;

namespace PureLlama.IO;

/// <summary>
/// Writes a whole folder (a model, an adapter, a checkpoint) so that a failure at any byte leaves the previous
/// folder loadable and byte-identical: everything is written into a hidden sibling <c>.{name}.partial-{id}</c>,
/// and only when complete is it swapped into place — atomically with Linux <c>renameat2(RENAME_EXCHANGE)</c>,
/// else by two renames (the old folder moves aside first, so a crash between them leaves it intact under
/// <c>.{name}.old-{id}</c>). The old contents are then deleted: the new folder replaces it whole.
/// </summary>
internal static class AtomicFolder
{
    private const string PartialMarker = ".partial-", OldMarker = ".old-";

    /// <summary>Test hook: called with each failure point ("begin", "file NAME" for each file written, "before-swap", "swap"); throwing there simulates a failed write.</summary>
    internal static readonly AsyncLocal<Action<string>?> FailurePoint = new();

    /// <summary>Test hook: swap by two renames even where an atomic exchange is available.</summary>
    internal static readonly AsyncLocal<bool> WithoutExchange = new();

    /// <summary>Raises the test hook at <paramref name="point"/> (no-op outside tests).</summary>
    internal static void Reach(string point) => FailurePoint.Value?.Invoke(point);

    /// <summary>Writes <paramref name="directory"/> through <paramref name="write"/>(temporary folder) and swaps it into place.</summary>
    public static void Write(string directory, Action<string> write) => Write<object?>(directory, temp => { write(temp); return null; });

    /// <summary>Writes <paramref name="directory"/> through <paramref name="write"/>(temporary folder) and swaps it into place; returns what <paramref name="write"/> returned.</summary>
    public static T Write<T>(string directory, Func<string, T> write) => Write(directory, write, carryOver: null);

    /// <summary>
    /// As <see cref="Write{T}(string, Func{string, T})"/>; files of the previous folder (top level) that the new one lacks and
    /// <paramref name="carryOver"/> accepts by name are copied into it before the swap (e.g. a user's notes beside the model).
    /// </summary>
    public static T Write<T>(string directory, Func<string, T> write, Func<string, bool>? carryOver)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string final = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        string parent = Path.GetDirectoryName(final) ?? throw new IOException($"Cannot write the root folder '{final}' atomically.");
        Directory.CreateDirectory(parent);
        string name = Path.GetFileName(final);
        string id = Guid.NewGuid().ToString("N")[..8];
        string temp = Path.Combine(parent, "." + name + PartialMarker + id);
        Directory.CreateDirectory(temp);
        try
        {
            Reach("begin");
            T result = write(temp);
            if (carryOver is not null && Directory.Exists(final))
                foreach (var old in Directory.GetFiles(final))
                {
                    string file = Path.GetFileName(old);
                    if (!File.Exists(Path.Combine(temp, file)) && carryOver(file)) AtomicFile.Copy(old, Path.Combine(temp, file));
                }
            Reach("before-swap");
            Swap(temp, final, Path.Combine(parent, "." + name + OldMarker + id));
            return result;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Deletes what a crashed write left beside <paramref name="directory"/> (temporary and moved-aside folders), restoring a moved-aside folder when the real one is missing.</summary>
    public static void RemoveLeftovers(string directory)
    {
        string final = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        string? parent = Path.GetDirectoryName(final);
        if (parent is null || !Directory.Exists(parent)) return;
        string name = Path.GetFileName(final);
        foreach (var old in Directory.GetDirectories(parent, "." + name + OldMarker + "*"))
        {
            if (!Directory.Exists(final)) Directory.Move(old, final);
            else TryDelete(old);
        }
        foreach (var partial in Directory.GetDirectories(parent, "." + name + PartialMarker + "*")) TryDelete(partial);
    }

    private static void Swap(string temp, string final, string old)
    {
        Reach("swap");
        if (!Directory.Exists(final))
        {
            Directory.Move(temp, final);
            return;
        }
        if (!WithoutExchange.Value && TryExchange(temp, final))
        {
            TryDelete(temp); // now holds the old contents
            return;
        }
        Directory.Move(final, old);
        try
        {
            Reach("swap-renames"); // between the two renames of the fallback
            Directory.Move(temp, final);
        }
        catch
        {
            if (!Directory.Exists(final)) Directory.Move(old, final); // put the previous folder back
            throw;
        }
        TryDelete(old);
    }

    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;

    [DllImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    private static extern int RenameAt2(int oldDirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string oldPath, int newDirFd,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string newPath, uint flags);

    // One atomic swap of two paths (Linux ≥ 3.15 on most file systems); false where unavailable.
    private static bool TryExchange(string a, string b)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return RenameAt2(AtFdCwd, a, AtFdCwd, b, RenameExchange) == 0; }
        catch (EntryPointNotFoundException) { return false; }
        catch (DllNotFoundException) { return false; }
    }

    internal static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { /* best effort: the original error matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
