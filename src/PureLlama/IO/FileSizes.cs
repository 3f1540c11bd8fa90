namespace PureLlama.IO;

/// <summary>Sizes of files as a user means them: a symbolic link counts as the file it points to (Hugging Face cache folders are links).</summary>
internal static class FileSizes
{
    /// <summary>Bytes of <paramref name="path"/>, following symbolic links to the final target.</summary>
    public static long Of(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target ? target.Length : info.Length;
    }
}
