using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace PureLlama.IO;

/// <summary>
/// Writes NumPy <c>.npy</c> files (format version 1.0, little-endian float32 <c>'&lt;f4'</c>,
/// C order) that <c>numpy.load</c> reads, e.g. the logits of <c>purellama logits</c>. Written to
/// <c>path.tmp</c> and renamed, so a failed write leaves any existing file intact.
/// </summary>
internal static class NpyWriter
{
    private static readonly byte[] s_magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0];

    /// <summary>Writes <paramref name="data"/> (row-major) as an array of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">A dimension is negative or the shape does not hold exactly <c>data.Length</c> values.</exception>
    public static void Write(string path, float[] data, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long numel = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Shape ({string.Join(", ", shape)}) has a negative dimension.", nameof(shape));
            numel *= d;
        }
        if (numel != data.Length)
            throw new ArgumentException($"Shape ({string.Join(", ", shape)}) holds {numel} values but {data.Length} were given.", nameof(shape));
        byte[] header = Header(shape);
        AtomicFile.Write(path, stream =>
        {
            stream.Write(header);
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
                return;
            }
            var buf = new byte[4];
            foreach (float v in data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buf, v);
                stream.Write(buf);
            }
        });
    }

    /// <summary>Magic, version, header length and the padded header dict.</summary>
    internal static byte[] Header(int[] shape)
    {
        string tuple = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}";
        // Pad with spaces and end with '\n' so the data starts at a multiple of 64 bytes.
        int unpadded = s_magic.Length + 2 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        string text = dict + new string(' ', total - unpadded) + "\n";
        if (text.Length > ushort.MaxValue) throw new ArgumentException($"Shape of rank {shape.Length} makes an .npy header too long.", nameof(shape));
        var result = new byte[total];
        s_magic.CopyTo(result, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)text.Length);
        Encoding.ASCII.GetBytes(text, result.AsSpan(10));
        return result;
    }
}
