namespace PureLlama.Tokenization;

/// <summary>
/// The GPT-2 byte-level alphabet: every byte 0..255 is given a printable Unicode character so
/// that byte strings can be stored as text in <c>tokenizer.json</c>. Printable Latin-1 bytes
/// ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes, in increasing
/// order, take the characters U+0100, U+0101, … (so a space, byte 0x20, is 'Ġ' U+0120).
/// </summary>
public static class ByteLevel
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly short[] s_charToByte = BuildCharToByte(s_byteToChar);

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char ByteToChar(byte b) => s_byteToChar[b];

    /// <summary>The byte that <paramref name="c"/> stands for, or -1 when <paramref name="c"/> is not in the alphabet.</summary>
    public static int CharToByte(char c) => c < s_charToByte.Length ? s_charToByte[c] : -1;

    /// <summary>Maps bytes to their byte-level characters; <paramref name="destination"/> must be at least as long as <paramref name="bytes"/>.</summary>
    public static void Encode(ReadOnlySpan<byte> bytes, Span<char> destination)
    {
        var table = s_byteToChar;
        for (int i = 0; i < bytes.Length; i++) destination[i] = table[bytes[i]];
    }

    /// <summary>Maps a byte-level string back to its bytes, or returns null when a character is outside the alphabet.</summary>
    public static byte[]? Decode(string text)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int b = CharToByte(text[i]);
            if (b < 0) return null;
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    private static bool IsSelfMapped(int b) => (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) table[b] = IsSelfMapped(b) ? (char)b : (char)next++;
        return table;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var table = new short[byteToChar.Max() + 1];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++) table[byteToChar[b]] = (short)b;
        return table;
    }
}
