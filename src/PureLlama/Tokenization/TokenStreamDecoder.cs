using System.Text;

namespace PureLlama.Tokenization;

/// <summary>
/// Decodes a stream of token ids one at a time, for printing generated text as it comes: each
/// call returns only complete characters; bytes of a character split across tokens are held
/// until the character is complete (a surrogate pair is never split either). Concatenating
/// every <see cref="Append"/> result and the final <see cref="Flush"/> gives exactly
/// <see cref="Llama3Tokenizer.Decode"/> of the same ids. Not thread-safe; one per stream.
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly Llama3Tokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private char[] _chars = new char[64];

    internal TokenStreamDecoder(Llama3Tokenizer tokenizer, bool skipSpecial)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
    }

    /// <summary>Adds one token; returns the text completed by it (often empty while a character is incomplete).</summary>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not a token of the vocabulary.</exception>
    public string Append(int id)
    {
        var bytes = _tokenizer.TokenBytes(id);
        if (_skipSpecial && _tokenizer.IsSpecial(id)) return "";
        return Convert(bytes, flush: false);
    }

    /// <summary>Ends the stream: returns what is held back (an incomplete character becomes U+FFFD) and resets.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int max = _utf8.GetCharCount(bytes, flush);
        if (max == 0 && !flush) { _utf8.GetChars(bytes, [], flush); return ""; }
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _utf8.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
