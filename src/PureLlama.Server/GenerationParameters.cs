using System.Text.Json;

namespace PureLlama.Server;

/// <summary>
/// The request fields chat and completions share: model, max_tokens / max_completion_tokens, temperature, top_p,
/// top_k (an extension), stop, seed, n, stream, stream_options, presence_penalty, frequency_penalty and logit_bias
/// (token id → bias); fields this server cannot honour (tools, structured output) are refused with 400 rather than ignored.
/// </summary>
internal sealed record GenerationParameters(string? Model, int? MaxTokens, string MaxTokensParam, float? Temperature, float? TopP, int? TopK,
    long? Seed, IReadOnlyList<string>? Stop, int N, bool Stream, bool IncludeUsage, float? PresencePenalty, float? FrequencyPenalty,
    IReadOnlyDictionary<int, float>? LogitBias)
{
    /// <summary>Most stop strings a request may give (OpenAI's limit).</summary>
    public const int MaxStopStrings = 4;

    /// <summary>Reads and checks the fields; <paramref name="vocabSize"/> bounds logit_bias's token ids.</summary>
    public static GenerationParameters Read(RequestJson json, ServerOptions options, int vocabSize)
    {
        string? model = json.String("model");
        int? maxCompletion = json.Int("max_completion_tokens", 1, int.MaxValue);
        int? maxTokens = json.Int("max_tokens", 1, int.MaxValue);
        float? temperature = (float?)json.Number("temperature", 0, 2);
        float? topP = (float?)json.Number("top_p", 0, 1);
        if (topP == 0f) throw ApiError.BadRequest("top_p must be greater than 0.", "top_p");
        int? topK = json.Int("top_k", -1, int.MaxValue); // vLLM's extension; -1 = off
        if (topK == -1) topK = 0;
        long? seed = json.Long("seed");
        int n = json.Int("n", 1, options.MaxChoices) ?? 1;
        bool stream = json.Bool("stream") ?? false;
        bool includeUsage = false;
        if (json.Get("stream_options") is { } so)
        {
            if (!stream) throw ApiError.BadRequest("stream_options is only allowed when stream is true.", "stream_options");
            if (so.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest("stream_options must be an object.", "stream_options");
            includeUsage = new RequestJson(so).Bool("include_usage") ?? false;
        }
        float? presence = (float?)json.Number("presence_penalty", -2, 2);
        float? frequency = (float?)json.Number("frequency_penalty", -2, 2);
        return new GenerationParameters(model, maxCompletion ?? maxTokens, maxCompletion is null ? "max_tokens" : "max_completion_tokens",
            temperature, topP, topK, seed, ReadStop(json), n, stream, includeUsage, presence, frequency, ReadLogitBias(json, vocabSize));
    }

    /// <summary>OpenAI's logit_bias: an object from token id (a decimal string) to a bias in [−100, 100].</summary>
    private static Dictionary<int, float>? ReadLogitBias(RequestJson json, int vocabSize)
    {
        if (json.Get("logit_bias") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest("logit_bias must be an object from token ids to numbers.", "logit_bias");
        var bias = new Dictionary<int, float>();
        foreach (var e in v.EnumerateObject())
        {
            if (!int.TryParse(e.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) || id >= vocabSize)
                throw ApiError.BadRequest($"logit_bias key '{e.Name}' is not a token id in [0, {vocabSize}).", "logit_bias");
            double b = e.Value.ValueKind == JsonValueKind.Number ? e.Value.GetDouble() : double.NaN;
            if (!(b >= -100 && b <= 100)) throw ApiError.BadRequest($"logit_bias of token {id} must be a number in [-100, 100].", "logit_bias");
            bias[id] = (float)b;
        }
        return bias;
    }

    private static List<string>? ReadStop(RequestJson json)
    {
        switch (json.Get("stop"))
        {
            case null: return null;
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString() is { Length: > 0 } one ? [one] : throw ApiError.BadRequest("stop must not be empty.", "stop");
            case { ValueKind: JsonValueKind.Array } a:
                var list = new List<string>();
                foreach (var e in a.EnumerateArray())
                {
                    if (e.ValueKind != JsonValueKind.String || e.GetString() is not { Length: > 0 } text)
                        throw ApiError.BadRequest("stop must be a string or an array of non-empty strings.", "stop");
                    list.Add(text);
                }
                if (list.Count > MaxStopStrings) throw ApiError.BadRequest($"stop holds {list.Count} strings; at most {MaxStopStrings} are allowed.", "stop");
                return list;
            default: throw ApiError.BadRequest("stop must be a string or an array of strings.", "stop");
        }
    }
}
