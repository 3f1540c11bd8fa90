using PureLlama.Serving;
using PureLlama.Tokenization;

namespace PureLlama.Server;

/// <summary>What every request handler of one server shares: the engine, the settings, the model ids and the HTTP-side counters.</summary>
internal sealed class ServerState(ServingEngine engine, ServerOptions options)
{
    private int _inFlight;
    private long _rejected;

    public ServingEngine Engine { get; } = engine;
    public ServerOptions Options { get; } = options;
    public ServedModels Models { get; } = ServedModels.For(engine, options.ModelName);
    /// <summary>The model's tokenizer (<see cref="LlamaServer.StartAsync"/> refuses a model without one).</summary>
    public Llama3Tokenizer Tokenizer => Engine.Runtime.Tokenizer!;

    /// <summary>Generation requests being handled now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);
    /// <summary>Requests refused with 429 (the server's limit or the engine's queue).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Takes a generation slot, or throws 429 when <see cref="ServerOptions.MaxConcurrentRequests"/> are in flight.</summary>
    public Slot Enter()
    {
        if (Interlocked.Increment(ref _inFlight) > Options.MaxConcurrentRequests)
        {
            Interlocked.Decrement(ref _inFlight);
            throw new ApiError(429, $"This server handles at most {Options.MaxConcurrentRequests} generation requests at once; retry later.",
                "rate_limit_error", code: "rate_limit_exceeded");
        }
        return new Slot(this);
    }

    public void CountRejected() => Interlocked.Increment(ref _rejected);

    /// <summary>The token's text and UTF-8 bytes (logprobs' <c>token</c> and <c>bytes</c>); a partial character reads as U+FFFD in the text.</summary>
    public (string Text, byte[] Bytes) Piece(int id)
    {
        if ((uint)id >= (uint)Tokenizer.VocabSize) return ($"<{id}>", []);
        byte[] bytes = Tokenizer.TokenBytes(id).ToArray();
        return (System.Text.Encoding.UTF8.GetString(bytes), bytes);
    }

    /// <summary>
    /// A generation slot, given back once: released before a response's last write (so a client that sends its next
    /// request on receiving the answer never meets its own previous request's slot), or at disposal.
    /// </summary>
    public sealed class Slot(ServerState state) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) Interlocked.Decrement(ref state._inFlight);
        }
    }
}
