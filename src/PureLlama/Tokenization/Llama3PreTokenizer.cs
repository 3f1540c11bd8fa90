using System.Globalization;

namespace PureLlama.Tokenization;

/// <summary>
/// The Llama 3 pre-tokenizer: splits text into the pieces that byte-level BPE then encodes one
/// at a time. A hand-written scanner that reproduces, code point by code point, the published
/// pattern (leftmost alternative wins, each alternative greedy, with backtracking):
/// <code>
/// (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} | ' '?[^\s\p{L}\p{N}]+[\r\n]*
///   | \s*[\r\n]+ | \s+(?!\S) | \s+
/// </code>
/// Classes follow Unicode: letters are categories L*, numbers N*, white space is the Unicode
/// White_Space property. Unlike a UTF-16 regex it never splits a surrogate pair, so letters and
/// digits outside the BMP are classified correctly.
/// </summary>
public static class Llama3PreTokenizer
{
    /// <summary>The split pattern as published in Llama 3's <c>tokenizer.json</c>.</summary>
    public const string Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private enum Kind : byte { Other, Letter, Number, Space, LineBreak }

    private static readonly Kind[] s_latin1 = BuildLatin1();

    /// <summary>Splits <paramref name="text"/> into its pre-tokens (for inspection and tests).</summary>
    public static List<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<string>();
        for (int pos = 0; pos < text.Length;)
        {
            int len = NextLength(text, pos);
            pieces.Add(text.Substring(pos, len));
            pos += len;
        }
        return pieces;
    }

    /// <summary>The length in UTF-16 units of the pre-token that starts at <paramref name="start"/> (always at least 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="start"/> is not inside <paramref name="text"/>.</exception>
    public static int NextLength(ReadOnlySpan<char> text, int start)
    {
        int n = text.Length;
        if ((uint)start >= (uint)n) throw new ArgumentOutOfRangeException(nameof(start), start, $"start must be inside the text (length {n})");
        char c = text[start];
        Kind k0 = KindAt(text, start, out int w0);

        // 1. Contractions, case-insensitive.
        if (c == '\'' && start + 1 < n)
        {
            int m = ContractionLength(text, start);
            if (m > 0) return m;
        }

        // 2. Optional leading non-letter/non-digit/non-line-break, then a run of letters.
        if (k0 == Kind.Letter) return LetterRunEnd(text, start) - start;
        if ((k0 == Kind.Other || k0 == Kind.Space) && start + w0 < n && KindAt(text, start + w0, out _) == Kind.Letter)
            return LetterRunEnd(text, start + w0) - start;

        // 3. One to three numbers.
        if (k0 == Kind.Number)
        {
            int p = start + w0;
            for (int count = 1; count < 3 && p < n; count++)
            {
                if (KindAt(text, p, out int w) != Kind.Number) break;
                p += w;
            }
            return p - start;
        }

        // 4. Optional space, a run of punctuation/symbols, then any line breaks.
        int q = -1;
        if (k0 == Kind.Other) q = start;
        else if (c == ' ' && start + 1 < n && KindAt(text, start + 1, out _) == Kind.Other) q = start + 1;
        if (q >= 0)
        {
            while (q < n && KindAt(text, q, out int w) == Kind.Other) q += w;
            while (q < n && (text[q] == '\r' || text[q] == '\n')) q++;
            return q - start;
        }

        // Only white space is left (k0 is Space or LineBreak; white space is always in the BMP).
        int end = start;
        int lastBreak = -1;
        while (end < n)
        {
            Kind k = KindAt(text, end, out _);
            if (k == Kind.LineBreak) lastBreak = end;
            else if (k != Kind.Space) break;
            end++;
        }
        // 5. \s*[\r\n]+ : white space up to and including its last line break.
        if (lastBreak >= 0) return lastBreak + 1 - start;
        // 6. \s+(?!\S) : the whole run at the end of the text, else all but its last character.
        if (end == n || end - start == 1) return end - start; // (7. \s+ when the run is a single character)
        return end - 1 - start;
    }

    private static int ContractionLength(ReadOnlySpan<char> text, int start)
    {
        char a = Fold(text[start + 1]);
        if (a is 's' or 't' or 'm' or 'd') return 2;
        if (start + 2 >= text.Length) return 0;
        char b = Fold(text[start + 2]);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? 3 : 0;
    }

    // Simple Unicode case folding restricted to the letters of the contractions:
    // ASCII upper case, and U+017F LATIN SMALL LETTER LONG S, which folds to 's'.
    private static char Fold(char c) => c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c == '\u017F' ? 's' : c;

    private static int LetterRunEnd(ReadOnlySpan<char> text, int p)
    {
        while (p < text.Length && KindAt(text, p, out int w) == Kind.Letter) p += w;
        return p;
    }

    private static Kind KindAt(ReadOnlySpan<char> text, int i, out int width)
    {
        char c = text[i];
        width = 1;
        if (c < 256) return s_latin1[c];
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            return FromCategory(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1])));
        }
        if (char.IsWhiteSpace(c)) return Kind.Space;
        return FromCategory(CharUnicodeInfo.GetUnicodeCategory(c));
    }

    private static Kind FromCategory(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => Kind.Space,
        _ => Kind.Other,
    };

    private static Kind[] BuildLatin1()
    {
        var table = new Kind[256];
        for (int c = 0; c < 256; c++)
        {
            table[c] = c is '\r' or '\n' ? Kind.LineBreak
                : char.IsWhiteSpace((char)c) ? Kind.Space
                : FromCategory(CharUnicodeInfo.GetUnicodeCategory((char)c));
        }
        return table;
    }
}
