using PureLlama.Tokenization;

namespace PureLlama.Llama;

/// <summary>
/// A multi-turn chat in the Llama 3 instruct format whose history lives in one KV cache: each turn
/// renders the whole conversation, keeps the cached prefix that still matches, and prefills only
/// the new tokens (the user turn and the assistant header). Dispose frees the cache.
/// </summary>
public sealed class LlamaChat : IDisposable
{
    private readonly LlamaRuntime _runtime;
    private readonly KvCache _cache;
    private readonly List<ChatTurn> _messages = [];
    private readonly List<int> _cached = []; // the token ids the cache holds, in order

    internal LlamaChat(LlamaRuntime runtime, string? system)
    {
        _runtime = runtime;
        runtime.RequireTokenizer();
        if (!string.IsNullOrEmpty(system)) _messages.Add(ChatTurn.System(system));
        _cache = runtime.Model.CreateCache(runtime.ContextLength, runtime.KvCacheDType);
    }

    /// <summary>The conversation so far.</summary>
    public IReadOnlyList<ChatTurn> Messages => _messages;

    /// <summary>Positions of the cache in use.</summary>
    public int CachedTokens => _cache.Length;

    /// <summary>Tokens prefilled by the last turn (new tokens only).</summary>
    public int LastPrefillTokens { get; private set; }

    /// <summary>Statistics of the last reply.</summary>
    public GenerationStats? LastStats { get; private set; }

    /// <summary>Adds a user turn and streams the assistant's reply, which joins the history when it ends.</summary>
    public IEnumerable<GeneratedToken> Send(string userMessage, SamplingOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(userMessage);
        if (userMessage.Trim().Length == 0) throw new ArgumentException("The message is empty.", nameof(userMessage));
        var opts = options ?? _runtime.DefaultSampling;
        var tokenizer = _runtime.RequireTokenizer();
        var turn = new List<ChatTurn>(_messages) { ChatTurn.User(userMessage) };
        int[] ids = tokenizer.ChatTemplate.Encode(turn, addGenerationPrompt: true);
        int common = 0;
        while (common < ids.Length - 1 && common < _cached.Count && _cached[common] == ids[common]) common++;
        int[] fresh = ids[common..];
        if (common + fresh.Length >= _cache.Capacity)
            throw new ContextLengthExceededException($"The conversation has {ids.Length} tokens; the context holds {_cache.Capacity}. Start a new chat.");
        _cache.Truncate(common);
        _cached.RemoveRange(common, _cached.Count - common);
        _messages.Add(ChatTurn.User(userMessage));
        LastPrefillTokens = fresh.Length;
        return Reply(fresh, opts, cancellation);
    }

    private IEnumerable<GeneratedToken> Reply(int[] fresh, SamplingOptions opts, CancellationToken cancellation)
    {
        var stats = new GenerationStats();
        var text = new System.Text.StringBuilder();
        var history = _cached.ToArray();
        try
        {
            foreach (var t in Generator.Run(_runtime.Model, _cache, fresh, opts, _runtime.StopIdsFor(opts), _runtime.Tokenizer, stats, history, _cached, cancellation))
            {
                text.Append(t.Text);
                yield return t;
            }
        }
        finally
        {
            _messages.Add(ChatTurn.Assistant(text.ToString()));
            LastStats = stats;
        }
    }

    /// <summary>Forgets the conversation (the system prompt is kept).</summary>
    public void Reset()
    {
        _messages.RemoveAll(m => m.Role != "system");
        _cache.Clear();
        _cached.Clear();
    }

    /// <inheritdoc/>
    public void Dispose() => _cache.Dispose();
}
