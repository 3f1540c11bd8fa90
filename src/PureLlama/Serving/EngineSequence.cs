using System.Threading.Channels;
using PureLlama.Llama;

namespace PureLlama.Serving;

/// <summary>
/// One request inside the engine: its tokens (prompt, then generated), how many of them have keys and
/// values in the cache, its sampler and text emitter, its blocks, and the channel its tokens go out on.
/// Touched by the scheduler thread only, except <see cref="Cancelled"/> and the channel's reader.
/// </summary>
internal sealed class EngineSequence
{
    public EngineSequence(long id, EngineRequest request, int adapter, Sampler sampler, TokenTextEmitter emitter, int contextLimit)
    {
        Id = id; Request = request; Adapter = adapter; Sampler = sampler; Emitter = emitter; ContextLimit = contextLimit;
        Tokens = [.. request.PromptIds];
    }

    public long Id { get; }
    public EngineRequest Request { get; }
    /// <summary>Index into the engine's adapters, −1 for the base model.</summary>
    public int Adapter { get; }
    public Sampler Sampler { get; }
    public TokenTextEmitter Emitter { get; }
    /// <summary>Positions this sequence may fill: the context, capped by what the whole pool holds.</summary>
    public int ContextLimit { get; }
    public int PromptLength => Request.PromptIds.Length;
    /// <summary>Prompt then generated tokens.</summary>
    public List<int> Tokens { get; }
    public int Generated => Tokens.Count - PromptLength;
    /// <summary>Tokens whose keys and values are in the cache (the next forward starts at this position).</summary>
    public int Computed { get; set; }
    /// <summary>Tokens still to feed (a prompt chunk, or the one token sampled last).</summary>
    public int Pending => Tokens.Count - Computed;
    /// <summary>KV blocks in position order (the block table).</summary>
    public List<int> Blocks { get; } = [];
    /// <summary>Leading blocks registered in the prefix cache (int.MaxValue: the chain broke, register no more).</summary>
    public int Registered { get; set; }
    /// <summary>Prompt tokens taken from the prefix cache at the first admission.</summary>
    public int CachedPromptTokens { get; set; } = -1;
    /// <summary>Set by the reader (dispose, cancellation) or the engine; the scheduler frees the sequence.</summary>
    public volatile bool Cancelled;
    public bool Finished { get; set; }
    public Channel<EngineToken> Output { get; } = Channel.CreateUnbounded<EngineToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
}
