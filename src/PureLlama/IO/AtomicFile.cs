namespace PureLlama.IO;

/// <summary>
/// Writes a file by writing <c>path.tmp</c> and renaming it over <c>path</c>, so a failed or
/// interrupted write never leaves a half-written file under the real name.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/> atomically.</summary>
    public static void Copy(string source, string destination) =>
        Write(destination, s => { using var f = File.OpenRead(source); f.CopyTo(s); });

    public static void Write(string path, Action<FileStream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir))
            throw new DirectoryNotFoundException($"Cannot write '{full}': folder '{dir}' does not exist.");
        string tmp = full + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                write(stream);
                AtomicFolder.Reach("file " + Path.GetFileName(full));
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { if (File.Exists(tmp)) File.Delete(tmp); }
            catch (IOException) { /* best effort: the original error matters more */ }
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
