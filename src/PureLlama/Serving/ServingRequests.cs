using PureLlama.Llama;

namespace PureLlama.Serving;

/// <summary>
/// What the HTTP server and <see cref="LlamaChatClient"/> share about one request: its sampling (the model's
/// generation defaults overridden by what the request sets), its new-token budget against the context, and the
/// OpenAI finish reason of a <see cref="StopReason"/>.
/// </summary>
internal static class ServingRequests
{
    /// <summary>The request's sampling: <paramref name="defaults"/> (generation_config) with each given setting applied, validated.</summary>
    public static SamplingOptions Sampling(SamplingOptions defaults, int maxNewTokens, float? temperature = null, float? topP = null,
        int? topK = null, long? seed = null, IReadOnlyList<string>? stop = null, float? presencePenalty = null, float? frequencyPenalty = null,
        IReadOnlyDictionary<int, float>? logitBias = null)
    {
        var o = defaults with { MaxNewTokens = maxNewTokens };
        if (presencePenalty is float presence) o = o with { PresencePenalty = presence };
        if (frequencyPenalty is float frequency) o = o with { FrequencyPenalty = frequency };
        if (logitBias is { Count: > 0 }) o = o with { LogitBias = logitBias };
        if (temperature is float t) o = o with { Temperature = t };
        if (topP is float p) o = o with { TopP = p };
        if (topK is int k) o = o with { TopK = k };
        if (seed is long s) o = o with { Seed = unchecked((ulong)s) };
        if (stop is { Count: > 0 }) o = o with { StopStrings = stop };
        o.Validate();
        return o;
    }

    /// <summary>
    /// New tokens a request may generate: <paramref name="requested"/>, or, when absent, what the context leaves after
    /// the prompt capped by <paramref name="limit"/>. Throws <see cref="ArgumentException"/> (param
    /// <paramref name="param"/>) for a value below 1 or above the limit, and <see cref="ContextLengthExceededException"/> (naming the field)
    /// when the prompt leaves no room or prompt + requested exceeds the context.
    /// </summary>
    public static int MaxNewTokens(int promptTokens, int? requested, int contextTokens, int? limit, string param, string promptParam)
    {
        if (promptTokens >= contextTokens)
            throw new ContextLengthExceededException(
                $"The prompt is {promptTokens} tokens; this model's context is {contextTokens} tokens, which leaves no room to generate.", promptParam);
        int room = contextTokens - promptTokens;
        if (requested is not int n) return limit is int cap ? Math.Min(cap, room) : room;
        if (n < 1) throw new ArgumentException($"{param} must be at least 1, got {n}.", param);
        if (limit is int max && n > max) throw new ArgumentException($"{param} is {n}; this server allows at most {max}.", param);
        if (n > room)
            throw new ContextLengthExceededException(
                $"This model's context is {contextTokens} tokens; the prompt is {promptTokens} tokens and {param} asks for {n} more ({promptTokens + n} in all).", param);
        return n;
    }

    /// <summary>OpenAI's finish_reason: "stop" for a stop token or string, "length" for the token limit or a full context, null otherwise.</summary>
    public static string? FinishReason(StopReason? reason) => reason switch
    {
        StopReason.StopToken or StopReason.StopString => "stop",
        StopReason.MaxNewTokens or StopReason.ContextFull => "length",
        _ => null,
    };
}
