using PureLlama.Llama;

namespace PureLlama.Serving;

/// <summary>
/// One generation request to a <see cref="ServingEngine"/>: prompt token ids (BOS included when wanted), sampling,
/// the LoRA adapter to use (null: the base model), and how many log-probabilities to return per token.
/// </summary>
/// <param name="PromptIds">The prompt, at least one id, shorter than <see cref="ServingEngine.MaxContextTokens"/>.</param>
/// <param name="Sampling">Sampling and stop settings (as for <see cref="LlamaRuntime.Generate(int[], SamplingOptions?, CancellationToken)"/>).</param>
/// <param name="Adapter">A name of <see cref="ServingEngine.AdapterNames"/>, or null for the base model.</param>
/// <param name="TopLogprobs">Alternatives per token with their log-probabilities (0–20).</param>
/// <param name="Logprobs">Return the log-probability of each generated token.</param>
public sealed record EngineRequest(int[] PromptIds, SamplingOptions Sampling, string? Adapter = null, int TopLogprobs = 0, bool Logprobs = false);

/// <summary>One of the most likely tokens at a step, with its log-probability under the model (before penalties and temperature).</summary>
public readonly record struct TokenLogprob(int Id, string Text, float Logprob);

/// <summary>
/// One generated token of a request, with the text semantics of <see cref="GeneratedToken"/> (the text it releases;
/// concatenating every <see cref="Text"/> gives the output, stop string excluded).
/// </summary>
/// <param name="Id">The token id.</param>
/// <param name="Text">The text released with it.</param>
/// <param name="Index">0 for the first generated token.</param>
/// <param name="Logprob">Its log-probability under the model (NaN unless the request asked for logprobs).</param>
/// <param name="TopLogprobs">The request's top alternatives at this step, most likely first (null unless asked).</param>
/// <param name="Finish">Why generation ended, on the last token only.</param>
/// <param name="PromptTokens">Tokens of the prompt.</param>
/// <param name="CachedPromptTokens">Prompt tokens whose keys and values came from the prefix cache.</param>
public readonly record struct EngineToken(int Id, string Text, int Index, float Logprob, IReadOnlyList<TokenLogprob>? TopLogprobs,
    StopReason? Finish, int PromptTokens, int CachedPromptTokens);

/// <summary>A snapshot of a <see cref="ServingEngine"/>'s load and totals.</summary>
/// <param name="Running">Sequences in the running batch.</param>
/// <param name="Waiting">Requests queued (preempted ones included).</param>
/// <param name="PromptTokens">Prompt tokens of every request admitted so far.</param>
/// <param name="GeneratedTokens">Tokens generated so far.</param>
/// <param name="KvBlocksUsed">KV blocks held by sequences (a block shared through the prefix cache counts once).</param>
/// <param name="KvBlocksFree">KV blocks an allocation can take: free ones and cached ones no sequence holds (evicted oldest first); Used + Free = the pool.</param>
/// <param name="PrefixCacheHitTokens">Prompt tokens served from the prefix cache so far.</param>
/// <param name="Preemptions">Sequences preempted (freed and recomputed later) because the pool ran dry.</param>
/// <param name="RequestsFinished">Requests that ended (any reason).</param>
/// <param name="KvBytesPerBlock">Bytes one KV block takes (all layers, K and V, scales included).</param>
public sealed record EngineMetrics(int Running, int Waiting, long PromptTokens, long GeneratedTokens, int KvBlocksUsed, int KvBlocksFree,
    long PrefixCacheHitTokens, long Preemptions, long RequestsFinished, long KvBytesPerBlock);

/// <summary>The engine's waiting queue is full: retry later (HTTP 429/503).</summary>
public sealed class ServingOverloadedException : PureLlamaException
{
    /// <summary>Creates the error with a message naming the limit.</summary>
    public ServingOverloadedException(string message) : base(message) { }
}
