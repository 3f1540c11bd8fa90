using System.Text.Json;
using PureLlama.Serving;

namespace PureLlama.Server;

/// <summary>
/// POST /v1/completions: <c>prompt</c> as a string, an array of strings, an array of token ids or an array of such
/// arrays (one choice group per prompt, BOS added to text prompts as <c>generate</c> does); the answer as
/// <c>text_completion</c> objects, streamed or whole; <c>logprobs</c> (0–5) in the legacy shape (tokens,
/// token_logprobs, top_logprobs, text_offset). echo, suffix and best_of ≠ n are refused with 400.
/// </summary>
internal sealed class CompletionsEndpoint(ServerState state) : GenerationEndpoint(state)
{
    private const int MaxLegacyLogprobs = 5;
    private const int MaxPrompts = 16;

    protected override string IdPrefix => "cmpl-";
    protected override string ObjectName => "text_completion";
    protected override string ChunkObjectName => "text_completion";

    protected override PreparedPrompts Prepare(RequestJson json)
    {
        if (json.Bool("echo") == true) throw ApiError.BadRequest("echo is not supported by this server.", "echo");
        if (json.String("suffix") is { Length: > 0 }) throw ApiError.BadRequest("suffix is not supported by this server.", "suffix");
        if (json.Int("best_of", 1, 64) is int bestOf && bestOf != (json.Int("n", 1, int.MaxValue) ?? 1))
            throw ApiError.BadRequest("best_of other than n is not supported by this server.", "best_of");
        int? logprobs = json.Int("logprobs", 0, MaxLegacyLogprobs);
        return new PreparedPrompts(ReadPrompts(json), "prompt", logprobs is not null, logprobs ?? 0);
    }

    private List<int[]> ReadPrompts(RequestJson json)
    {
        const string param = "prompt";
        var prompts = new List<int[]>();
        switch (json.Get(param))
        {
            case null: throw ApiError.BadRequest("prompt is missing.", param);
            case { ValueKind: JsonValueKind.String } s: prompts.Add(Encode(s.GetString()!)); break;
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 0 && a[0].ValueKind == JsonValueKind.Number:
                prompts.Add(ReadIds(a, param)); break;
            case { ValueKind: JsonValueKind.Array } a:
                if (a.GetArrayLength() is 0 or > MaxPrompts) throw ApiError.BadRequest($"prompt must hold 1 to {MaxPrompts} prompts.", param);
                foreach (var e in a.EnumerateArray())
                    prompts.Add(e.ValueKind switch
                    {
                        JsonValueKind.String => Encode(e.GetString()!),
                        JsonValueKind.Array => ReadIds(e, param),
                        _ => throw ApiError.BadRequest("prompt must be a string, an array of strings, or token ids.", param),
                    });
                break;
            default: throw ApiError.BadRequest("prompt must be a string, an array of strings, or token ids.", param);
        }
        return prompts;
    }

    private int[] Encode(string text)
    {
        if (text.Length == 0) throw ApiError.BadRequest("prompt is empty.", "prompt");
        return State.Engine.Runtime.Encode(text);
    }

    private int[] ReadIds(JsonElement array, string param)
    {
        int vocab = State.Engine.Runtime.Model.VocabSize;
        var ids = new int[array.GetArrayLength()];
        if (ids.Length == 0) throw ApiError.BadRequest("prompt is empty.", param);
        int i = 0;
        foreach (var e in array.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id) || id < 0 || id >= vocab)
                throw ApiError.BadRequest($"prompt token {i} is not a token id in [0, {vocab}).", param);
            ids[i++] = id;
        }
        return ids;
    }

    protected override void WriteChoice(Utf8JsonWriter w, int index, ChoiceOutput output, PreparedPrompts prepared)
    {
        w.WriteStartObject();
        w.WriteString("text", output.Text.ToString());
        w.WriteNumber("index", index);
        if (prepared.Logprobs)
        {
            int offset = 0;
            var offsets = new List<int>();
            foreach (var t in output.LogprobTokens) { offsets.Add(offset); offset += t.Text.Length; }
            WriteLogprobs(w, output.LogprobTokens, offsets);
        }
        else w.WriteNull("logprobs");
        WriteFinish(w, output.FinishReason);
        w.WriteEndObject();
    }

    protected override void WriteTokenChoice(Utf8JsonWriter w, int index, EngineToken token, bool withLogprobs, int textOffset)
    {
        w.WriteStartObject();
        w.WriteString("text", token.Text);
        w.WriteNumber("index", index);
        if (withLogprobs) WriteLogprobs(w, [token], [textOffset]); else w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
    }

    protected override void WriteFinishChoice(Utf8JsonWriter w, int index, string? finishReason)
    {
        w.WriteStartObject();
        w.WriteString("text", "");
        w.WriteNumber("index", index);
        w.WriteNull("logprobs");
        WriteFinish(w, finishReason);
        w.WriteEndObject();
    }

    private static void WriteFinish(Utf8JsonWriter w, string? reason)
    {
        if (reason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", reason);
    }

    /// <summary>The legacy logprobs object: parallel arrays of token text, its logprob, the top alternatives ({token: logprob}) and text offsets.</summary>
    private void WriteLogprobs(Utf8JsonWriter w, IReadOnlyList<EngineToken> tokens, IReadOnlyList<int> offsets)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("tokens");
        foreach (var t in tokens) w.WriteStringValue(State.Piece(t.Id).Text);
        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        foreach (var t in tokens) w.WriteNumberValue(float.IsFinite(t.Logprob) ? t.Logprob : -9999f);
        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        foreach (var t in tokens)
        {
            if (t.TopLogprobs is not { Count: > 0 } alts) { w.WriteNullValue(); continue; }
            w.WriteStartObject();
            foreach (var alt in alts) JsonBody.WriteLogprob(w, State.Piece(alt.Id).Text, alt.Logprob);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        foreach (int o in offsets) w.WriteNumberValue(o);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
