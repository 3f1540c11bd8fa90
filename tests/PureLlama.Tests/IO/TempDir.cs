using System.Buffers.Binary;
using System.Text;
using PureLlama.Tensors;

namespace PureLlama.Tests.IO;

/// <summary>A temporary folder deleted on dispose, with helpers to craft (possibly broken) files.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "purellama-io-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a safetensors file from raw header JSON and <paramref name="dataBytes"/> bytes of data (a ramp).</summary>
    public string RawSafeTensors(string name, string headerJson, long dataBytes, ulong? declaredHeaderLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (long i = 0; i < dataBytes; i++) bytes[8 + header.Length + i] = (byte)i;
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>The bytes of a tensor, whatever its dtype.</summary>
    public static byte[] Raw(PureLlama.Tensors.Tensor t) => t.DType.SizeOf() switch
    {
        4 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray<int>().AsSpan()).ToArray(),
        2 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray<ushort>().AsSpan()).ToArray(),
        _ => t.ToArray<byte>(),
    };

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
