using System.Buffers;

namespace PureLlama.Tokenization;

/// <summary>
/// Finds added tokens in text: the leftmost occurrence of any token, and at that position the
/// longest token (Hugging Face's leftmost-longest rule). Exact, case-sensitive matching.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly SearchValues<string>? _search;
    private readonly Dictionary<char, AddedToken[]> _byFirstChar = new();

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        var list = tokens.Where(t => t.Content.Length > 0).ToList();
        if (list.Count == 0) return;
        _search = SearchValues.Create(list.Select(t => t.Content).Distinct().ToArray(), StringComparison.Ordinal);
        foreach (var group in list.GroupBy(t => t.Content[0]))
            _byFirstChar[group.Key] = group.OrderByDescending(t => t.Content.Length).ToArray();
    }

    /// <summary>The index of the first added token in <paramref name="text"/>, or -1.</summary>
    public int Find(ReadOnlySpan<char> text, out int id, out int length)
    {
        id = length = 0;
        if (_search is null) return -1;
        int at = text.IndexOfAny(_search);
        if (at < 0) return -1;
        var rest = text[at..];
        foreach (var t in _byFirstChar[rest[0]])
        {
            if (rest.StartsWith(t.Content, StringComparison.Ordinal))
            {
                id = t.Id;
                length = t.Content.Length;
                return at;
            }
        }
        throw new InvalidOperationException("added-token search found a match that no token accounts for");
    }
}
