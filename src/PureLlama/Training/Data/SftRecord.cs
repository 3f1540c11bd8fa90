using System.Text.Json;
using PureLlama.IO;
using PureLlama.Tokenization;

namespace PureLlama.Training.Data;

/// <summary>The JSONL record shapes an SFT dataset accepts.</summary>
public enum SftFormat
{
    /// <summary>Recognise each line by its fields: <c>messages</c> → chat, <c>instruction</c> → Alpaca, <c>text</c> → text.</summary>
    Auto,
    /// <summary><c>{"instruction": str, "input": str (optional), "output": str}</c>: one user turn and one assistant turn.</summary>
    Alpaca,
    /// <summary><c>{"messages": [{"role": "system"|"user"|"assistant", "content": str}, …]}</c>: any number of turns.</summary>
    Chat,
    /// <summary><c>{"text": str}</c>: plain text, trained on every token, BOS before and EOS after.</summary>
    Text,
}

/// <summary>One parsed JSONL line: a conversation, or plain text.</summary>
/// <param name="Messages">The turns (Alpaca and chat records), or null for a text record.</param>
/// <param name="Text">The text of a text record, or null.</param>
public sealed record SftRecord(IReadOnlyList<ChatTurn>? Messages, string? Text)
{
    /// <summary>
    /// Parses one JSONL line. Alpaca: the user turn is <c>instruction</c>, plus <c>"\n\n" + input</c> when
    /// <c>input</c> is a non-empty string; the assistant turn is <c>output</c>. Chat: roles must be system
    /// (first message only), user or assistant; content a string; at least one assistant turn with text.
    /// </summary>
    /// <param name="line">The line's text.</param>
    /// <param name="format">The expected shape, or <see cref="SftFormat.Auto"/>.</param>
    /// <exception cref="FormatException">The line is not valid JSON or not a valid record; the message says what is wrong (without the location).</exception>
    public static SftRecord Parse(string line, SftFormat format)
    {
        JsonDocument doc;
        try { doc = StrictJson.Parse(line, "line"); }
        catch (InvalidDataException e) { throw new FormatException(e.Message.Replace("'line' ", "", StringComparison.Ordinal)); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"expected a JSON object, found {root.ValueKind}");
            if (format == SftFormat.Auto)
            {
                format = root.TryGetProperty("messages", out _) ? SftFormat.Chat
                    : root.TryGetProperty("instruction", out _) ? SftFormat.Alpaca
                    : root.TryGetProperty("text", out _) ? SftFormat.Text
                    : throw new FormatException("no \"messages\", \"instruction\" or \"text\" field (expected a chat, Alpaca or text record)");
            }
            return format switch
            {
                SftFormat.Alpaca => ParseAlpaca(root),
                SftFormat.Chat => ParseChat(root),
                _ => new SftRecord(null, RequiredString(root, "text")),
            };
        }
    }

    private static SftRecord ParseAlpaca(JsonElement root)
    {
        string instruction = RequiredString(root, "instruction");
        string output = RequiredString(root, "output");
        string? input = null;
        if (root.TryGetProperty("input", out var i) && i.ValueKind != JsonValueKind.Null)
            input = i.ValueKind == JsonValueKind.String ? i.GetString() : throw new FormatException($"\"input\" is {i.ValueKind}, expected a string");
        string user = string.IsNullOrWhiteSpace(input) ? instruction : instruction + "\n\n" + input;
        return new SftRecord([ChatTurn.User(user), ChatTurn.Assistant(output)], null);
    }

    private static SftRecord ParseChat(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var list)) throw new FormatException("missing \"messages\"");
        if (list.ValueKind != JsonValueKind.Array) throw new FormatException($"\"messages\" is {list.ValueKind}, expected an array");
        var messages = new List<ChatTurn>();
        bool assistant = false;
        int k = 0;
        foreach (var m in list.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object) throw new FormatException($"messages[{k}] is {m.ValueKind}, expected an object");
            if (!m.TryGetProperty("role", out var r) || r.ValueKind != JsonValueKind.String) throw new FormatException($"messages[{k}] has no string \"role\"");
            string role = r.GetString()!;
            if (role is not ("system" or "user" or "assistant"))
                throw new FormatException($"messages[{k}] has role \"{role}\"; expected system, user or assistant");
            if (role == "system" && k != 0) throw new FormatException($"messages[{k}] is a system message; only the first message may be one");
            if (!m.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.String)
                throw new FormatException($"messages[{k}] ({role}) has no string \"content\"");
            string content = c.GetString()!;
            if (role == "assistant" && !string.IsNullOrWhiteSpace(content)) assistant = true;
            messages.Add(new ChatTurn(role, content));
            k++;
        }
        if (k == 0) throw new FormatException("\"messages\" is empty");
        if (!assistant) throw new FormatException("no assistant message with text (nothing to train on)");
        return new SftRecord(messages, null);
    }

    private static string RequiredString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v)) throw new FormatException($"missing \"{name}\"");
        if (v.ValueKind != JsonValueKind.String) throw new FormatException($"\"{name}\" is {v.ValueKind}, expected a string");
        string s = v.GetString()!;
        if (string.IsNullOrWhiteSpace(s)) throw new FormatException($"\"{name}\" is empty");
        return s;
    }
}
