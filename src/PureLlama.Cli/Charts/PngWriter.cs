using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace PureLlama.Cli.Charts;

/// <summary>
/// A minimal PNG encoder (RFC 2083 / ISO 15948): 8-bit RGB, no interlace, every scanline with filter
/// type 0, the image data one zlib stream in one IDAT chunk. Chunks are length (big-endian) · type ·
/// data · CRC-32 of type and data.
/// </summary>
internal static class PngWriter
{
    /// <summary>The 8-byte PNG signature.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Encodes <paramref name="rgb"/> [height, width, 3] (row-major, top row first) as PNG bytes.</summary>
    public static byte[] Encode(int width, int height, ReadOnlySpan<byte> rgb)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"A PNG needs a positive size, not {width}×{height}.");
        if (rgb.Length != (long)width * height * 3) throw new ArgumentException($"{width}×{height} RGB needs {(long)width * height * 3} bytes, got {rgb.Length}.", nameof(rgb));
        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;   // bit depth
        header[9] = 2;   // colour type: truecolour (RGB)
        header[10] = 0;  // compression: deflate
        header[11] = 0;  // filter method 0
        header[12] = 0;  // no interlace
        WriteChunk(output, "IHDR", header);

        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            int stride = width * 3;
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0);                                  // filter type None
                z.Write(rgb.Slice(y * stride, stride));
            }
        }
        WriteChunk(output, "IDAT", compressed.ToArray());
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>Encodes and writes the image to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, int width, int height, ReadOnlySpan<byte> rgb)
    {
        var bytes = Encode(width, height, rgb);
        IO.AtomicFile.Write(path, s => s.Write(bytes));
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        Encoding.ASCII.GetBytes(type, typeBytes);
        output.Write(typeBytes);
        output.Write(data);
        uint crc = Crc32.Update(Crc32.Initial, typeBytes);
        crc = Crc32.Update(crc, data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Finish(crc));
        output.Write(word);
    }
}

/// <summary>
/// CRC-32 as PNG and zip use it: reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF,
/// one byte at a time through a 256-entry table.
/// </summary>
internal static class Crc32
{
    private static readonly uint[] s_table = BuildTable();

    /// <summary>The register value before any byte.</summary>
    public const uint Initial = 0xFFFFFFFFu;

    /// <summary>Feeds <paramref name="data"/> into the running register <paramref name="crc"/>.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) crc = s_table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>The CRC of everything fed so far.</summary>
    public static uint Finish(uint crc) => crc ^ 0xFFFFFFFFu;

    /// <summary>CRC-32 of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(Initial, data));

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
