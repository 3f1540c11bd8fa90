using System.Text.Json;
using PureLlama.Serving;
using PureLlama.Tokenization;

namespace PureLlama.Server;

/// <summary>
/// POST /v1/chat/completions: messages (system, developer, user, assistant, tool; string content or text parts)
/// through the model's chat template; the answer as <c>chat.completion</c> or <c>chat.completion.chunk</c> events;
/// logprobs (bool) and top_logprobs (0–20) as OpenAI's <c>logprobs.content</c>. Tools, function calls and non-text
/// response formats are refused with 400.
/// </summary>
internal sealed class ChatCompletionsEndpoint(ServerState state) : GenerationEndpoint(state)
{
    private const int MaxTopLogprobs = 20;

    protected override string IdPrefix => "chatcmpl-";
    protected override string ObjectName => "chat.completion";
    protected override string ChunkObjectName => "chat.completion.chunk";
    protected override bool HasStartChoice => true;

    protected override PreparedPrompts Prepare(RequestJson json)
    {
        json.RejectUnless("tools", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0, "tools (function calling)");
        json.RejectUnless("functions", v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0, "functions (function calling)");
        json.RejectUnless("tool_choice", v => v.ValueKind == JsonValueKind.String && v.GetString() == "none", "a tool_choice other than \"none\"");
        json.RejectUnless("response_format", v => v.ValueKind == JsonValueKind.Object && v.TryGetProperty("type", out var t) && t.ValueEquals("text"),
            "a response_format other than {\"type\":\"text\"}");
        bool logprobs = json.Bool("logprobs") ?? false;
        int top = json.Int("top_logprobs", 0, MaxTopLogprobs) ?? 0;
        if (top > 0 && !logprobs) throw ApiError.BadRequest("top_logprobs needs logprobs set to true.", "top_logprobs");
        return new PreparedPrompts([State.Tokenizer.ChatTemplate.Encode(ReadMessages(json))], "messages", logprobs, top);
    }

    private static List<ChatTurn> ReadMessages(RequestJson json)
    {
        if (json.Get("messages") is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
            throw ApiError.BadRequest("messages must be a non-empty array of {role, content}.", "messages");
        var turns = new List<ChatTurn>();
        int i = 0;
        foreach (var m in array.EnumerateArray())
        {
            string param = $"messages[{i}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"{param} must be an object with a role and content.", param);
            var message = new RequestJson(m);
            string role = message.String("role") switch
            {
                null => throw ApiError.BadRequest($"{param}.role is missing.", $"{param}.role"),
                "developer" => "system",
                var r when r is "system" or "user" or "assistant" or "tool" or "ipython" => r,
                var other => throw ApiError.BadRequest($"{param}.role '{other}' is not one of system, developer, user, assistant, tool.", $"{param}.role"),
            };
            if (message.Get("tool_calls") is not null || message.Get("function_call") is not null)
                throw ApiError.BadRequest($"{param}: tool calls are not supported by this server.", $"{param}.tool_calls");
            turns.Add(new ChatTurn(role, ReadContent(message, $"{param}.content")));
            i++;
        }
        return turns;
    }

    /// <summary>A string, or an array of {"type":"text","text"} parts joined; anything else (images, audio) is refused.</summary>
    private static string ReadContent(RequestJson message, string param)
    {
        switch (message.Get("content"))
        {
            case { ValueKind: JsonValueKind.String } s: return s.GetString()!;
            case { ValueKind: JsonValueKind.Array } parts:
                var text = new System.Text.StringBuilder();
                foreach (var part in parts.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || !type.ValueEquals("text")
                        || !part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                        throw ApiError.BadRequest($"{param}: only text parts ({{\"type\":\"text\",\"text\":…}}) are supported.", param);
                    text.Append(t.GetString());
                }
                return text.ToString();
            case null: throw ApiError.BadRequest($"{param} is missing.", param);
            default: throw ApiError.BadRequest($"{param} must be a string or an array of text parts.", param);
        }
    }

    protected override void WriteChoice(Utf8JsonWriter w, int index, ChoiceOutput output, PreparedPrompts prepared)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        w.WriteString("content", output.Text.ToString());
        w.WriteNull("refusal");
        w.WriteEndObject();
        if (prepared.Logprobs)
        {
            w.WriteStartObject("logprobs");
            w.WriteStartArray("content");
            foreach (var t in output.LogprobTokens) WriteLogprob(w, t);
            w.WriteEndArray();
            w.WriteNull("refusal");
            w.WriteEndObject();
        }
        else w.WriteNull("logprobs");
        WriteFinish(w, output.FinishReason);
        w.WriteEndObject();
    }

    protected override void WriteStartChoice(Utf8JsonWriter w, int index)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        w.WriteString("role", "assistant");
        w.WriteString("content", "");
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
    }

    protected override void WriteTokenChoice(Utf8JsonWriter w, int index, EngineToken token, bool withLogprobs, int textOffset)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        w.WriteString("content", token.Text);
        w.WriteEndObject();
        if (withLogprobs)
        {
            w.WriteStartObject("logprobs");
            w.WriteStartArray("content");
            WriteLogprob(w, token);
            w.WriteEndArray();
            w.WriteNull("refusal");
            w.WriteEndObject();
        }
        else w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
    }

    protected override void WriteFinishChoice(Utf8JsonWriter w, int index, string? finishReason)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        w.WriteEndObject();
        w.WriteNull("logprobs");
        WriteFinish(w, finishReason);
        w.WriteEndObject();
    }

    private static void WriteFinish(Utf8JsonWriter w, string? reason)
    {
        if (reason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", reason);
    }

    /// <summary>One <c>logprobs.content</c> entry: token, logprob, bytes and top_logprobs (each with token, logprob, bytes).</summary>
    private void WriteLogprob(Utf8JsonWriter w, EngineToken t)
    {
        w.WriteStartObject();
        WritePiece(w, t.Id, t.Logprob);
        w.WriteStartArray("top_logprobs");
        foreach (var alt in t.TopLogprobs ?? [])
        {
            w.WriteStartObject();
            WritePiece(w, alt.Id, alt.Logprob);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WritePiece(Utf8JsonWriter w, int id, float logprob)
    {
        var (text, bytes) = State.Piece(id);
        w.WriteString("token", text);
        JsonBody.WriteLogprob(w, "logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (byte b in bytes) w.WriteNumberValue(b);
        w.WriteEndArray();
    }
}
