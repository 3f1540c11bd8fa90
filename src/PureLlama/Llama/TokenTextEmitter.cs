using PureLlama.Tokenization;

namespace PureLlama.Llama;

/// <summary>
/// Turns each sampled id of one sequence into the text it releases and whether generation ends
/// there (stop token, stop string, max new tokens, full context): the streamed-text semantics of
/// <see cref="GeneratedToken"/>, shared by <see cref="Generator"/> and the serving engine.
/// </summary>
internal sealed class TokenTextEmitter
{
    private readonly TokenStreamDecoder? _decoder;
    private readonly StopStringMatcher _matcher;
    private readonly IReadOnlyCollection<int> _stops;
    private readonly int _maxNewTokens;

    public TokenTextEmitter(Llama3Tokenizer? tokenizer, SamplingOptions options, IReadOnlyCollection<int> stopTokenIds)
    {
        _decoder = tokenizer?.CreateStreamDecoder(skipSpecial: true);
        _matcher = new StopStringMatcher(options.StopStrings);
        _stops = stopTokenIds;
        _maxNewTokens = options.MaxNewTokens;
    }

    /// <summary>
    /// The text released by generated token <paramref name="index"/> (0-based) and why generation ends with it
    /// (<see cref="StopReason.None"/>: it goes on). <paramref name="contextFull"/>: no position is left for another token.
    /// </summary>
    public (string Text, StopReason Stop) Next(int id, int index, bool contextFull)
    {
        if (_stops.Contains(id)) return ((_decoder?.Flush() ?? "") + _matcher.Flush(), StopReason.StopToken);
        var (text, stopped) = _matcher.Push(_decoder?.Append(id) ?? "");
        if (stopped) return (text, StopReason.StopString);
        if (index + 1 < _maxNewTokens && !contextFull) return (text, StopReason.None);
        var reason = contextFull && index + 1 < _maxNewTokens ? StopReason.ContextFull : StopReason.MaxNewTokens;
        var (tail, stoppedAtEnd) = _matcher.Push(_decoder?.Flush() ?? "");
        return stoppedAtEnd ? (text + tail, StopReason.StopString) : (text + tail + _matcher.Flush(), reason);
    }
}
