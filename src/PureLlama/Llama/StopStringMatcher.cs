namespace PureLlama.Llama;

/// <summary>
/// Finds stop strings in streamed text. Text that could still be the start of a stop string is
/// held back; when a stop string completes, the text before it is released and the match reported.
/// </summary>
internal sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private string _pending = "";

    public StopStringMatcher(IReadOnlyList<string> stops) => _stops = [.. stops];

    /// <summary>Adds a piece; returns the text safe to emit and whether a stop string completed.</summary>
    public (string Emit, bool Stopped) Push(string piece)
    {
        if (_stops.Length == 0) return (piece, false);
        _pending += piece;
        int first = -1;
        foreach (var s in _stops)
        {
            int i = _pending.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        if (first >= 0)
        {
            string before = _pending[..first];
            _pending = "";
            return (before, true);
        }
        int hold = 0;
        foreach (var s in _stops)
            for (int len = Math.Min(s.Length - 1, _pending.Length); len > hold; len--)
                if (_pending.AsSpan(_pending.Length - len).SequenceEqual(s.AsSpan(0, len))) { hold = len; break; }
        string emit = _pending[..^hold];
        _pending = _pending[^hold..];
        return (emit, false);
    }

    /// <summary>Releases whatever is held (generation ended without a match).</summary>
    public string Flush()
    {
        string rest = _pending;
        _pending = "";
        return rest;
    }
}
