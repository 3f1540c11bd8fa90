using System.Text.Json;
using System.Text.RegularExpressions;

namespace PureLlama.Tokenization;

/// <summary>Everything read from <c>tokenizer.json</c> (and <c>tokenizer_config.json</c>), validated.</summary>
internal sealed class TokenizerData
{
    public required Dictionary<string, int> Vocab { get; init; }
    public required Dictionary<long, long> Merges { get; init; }
    public required int MergeCount { get; init; }
    public required bool IgnoreMerges { get; init; }
    public required List<AddedToken> AddedTokens { get; init; }
    /// <summary>Null for the Llama 3 pattern (handled by <see cref="Llama3PreTokenizer"/>), else the split regex.</summary>
    public Regex? CustomSplit { get; init; }
    public string? BosToken { get; set; }
    public string? EosToken { get; set; }
    public string? ChatTemplate { get; set; }
}

/// <summary>Reads Hugging Face tokenizer files; every problem is an <see cref="InvalidDataException"/> naming the file.</summary>
internal static class TokenizerFiles
{
    // One streaming pass: the big "model" object (vocab and merges) is read token by token without
    // building a document; the small top-level objects are parsed as JsonElements.
    public static TokenizerData ReadTokenizerJson(ReadOnlyMemory<byte> json, string source)
    {
        var readerOptions = new JsonReaderOptions { MaxDepth = 256 };
        IO.StrictJson.Check(json.Span, source, readerOptions);
        try
        {
            var reader = new Utf8JsonReader(json.Span, readerOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw Bad(source, "the top level is not a JSON object");
            TokenizerModelReader? model = null;
            JsonElement? pre = null, normalizer = null, added = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                switch (name)
                {
                    case "model": model = TokenizerModelReader.Read(ref reader, source, json.Length); break;
                    case "pre_tokenizer": pre = JsonElement.ParseValue(ref reader); break;
                    case "normalizer": normalizer = JsonElement.ParseValue(ref reader); break;
                    case "added_tokens": added = JsonElement.ParseValue(ref reader); break;
                    default: reader.Skip(); break;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject) throw Bad(source, "the top level is not a JSON object");
            if (model is null) throw Bad(source, "missing the \"model\" object");
            if (normalizer is { ValueKind: not JsonValueKind.Null } norm)
                throw Bad(source, $"normalizer \"{OptString(norm, "type") ?? "?"}\" is not supported (Llama 3 has none)");
            var split = ReadPreTokenizer(pre, source);
            var (vocab, merges, mergeCount) = model.Finish();
            var addedTokens = ReadAddedTokens(added, source);
            CheckIdRange(vocab, addedTokens, source);
            return new TokenizerData
            {
                Vocab = vocab, Merges = merges, MergeCount = mergeCount, IgnoreMerges = model.IgnoreMerges,
                AddedTokens = addedTokens, CustomSplit = split,
            };
        }
        catch (JsonException e) { throw Bad(source, $"not valid JSON ({e.Message})"); }
    }

    /// <summary>Reads bos_token, eos_token and chat_template from <c>tokenizer_config.json</c> into <paramref name="data"/>.</summary>
    public static void ReadConfig(ReadOnlyMemory<byte> json, string source, TokenizerData data)
    {
        using (var doc = IO.StrictJson.Parse(json, source))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "the top level is not a JSON object");
            data.BosToken = TokenText(root, "bos_token", source);
            data.EosToken = TokenText(root, "eos_token", source);
            if (root.TryGetProperty("chat_template", out var t))
            {
                if (t.ValueKind == JsonValueKind.String) data.ChatTemplate = t.GetString();
                else if (t.ValueKind == JsonValueKind.Array)
                {
                    // The list form: [{"name": "default", "template": "..."}, ...]
                    foreach (var entry in t.EnumerateArray())
                        if (entry.ValueKind == JsonValueKind.Object && OptString(entry, "name") == "default")
                            data.ChatTemplate = OptString(entry, "template");
                }
                else if (t.ValueKind != JsonValueKind.Null) throw Bad(source, "chat_template is neither a string nor a list of named templates");
            }
        }
    }

    private static string? TokenText(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        if (v.ValueKind == JsonValueKind.Object && OptString(v, "content") is { } content) return content;
        throw Bad(source, $"{name} is neither a string nor an object with \"content\"");
    }

    // Supported: Sequence[Split(regex, Isolated), ByteLevel(use_regex: false)] and ByteLevel(use_regex: false) alone
    // after a Split. Returns null when the split regex is Llama 3's own pattern.
    private static Regex? ReadPreTokenizer(JsonElement? preTokenizer, string source)
    {
        if (preTokenizer is not { ValueKind: JsonValueKind.Object } pre)
            throw Bad(source, "missing the \"pre_tokenizer\" object (a byte-level tokenizer needs one)");
        var steps = new List<JsonElement>();
        if (OptString(pre, "type") == "Sequence" && pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
            steps.AddRange(list.EnumerateArray());
        else steps.Add(pre);

        string? pattern = null;
        bool byteLevel = false;
        foreach (var step in steps)
        {
            switch (OptString(step, "type"))
            {
                case "Split" when pattern is null && !byteLevel:
                    if (!step.TryGetProperty("pattern", out var p) || OptString(p, "Regex") is not { } rx)
                        throw Bad(source, "pre_tokenizer Split has no \"pattern\": {\"Regex\": ...}");
                    string behavior = OptString(step, "behavior") ?? "Isolated";
                    bool invert = step.TryGetProperty("invert", out var inv) && inv.ValueKind == JsonValueKind.True;
                    if (behavior != "Isolated" || invert)
                        throw Bad(source, $"pre_tokenizer Split with behavior \"{behavior}\"{(invert ? " inverted" : "")} is not supported (only Isolated)");
                    pattern = rx;
                    break;
                case "ByteLevel" when !byteLevel:
                    if (step.TryGetProperty("use_regex", out var ur) && ur.ValueKind != JsonValueKind.False)
                        throw Bad(source, "pre_tokenizer ByteLevel with use_regex (the GPT-2 split) is not supported");
                    if (step.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True)
                        throw Bad(source, "pre_tokenizer ByteLevel with add_prefix_space is not supported");
                    byteLevel = true;
                    break;
                default:
                    throw Bad(source, $"pre_tokenizer step \"{OptString(step, "type") ?? "?"}\" is not supported (expected Split then ByteLevel)");
            }
        }
        if (!byteLevel) throw Bad(source, "the pre_tokenizer has no ByteLevel step; only byte-level BPE is supported");
        if (pattern is null) throw Bad(source, "the pre_tokenizer has no Split step");
        if (pattern == Llama3PreTokenizer.Pattern) return null;
        try { return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, RegexTimeout); }
        catch (ArgumentException e) { throw Bad(source, $"the pre_tokenizer regex does not compile in .NET ({e.Message})"); }
    }

    /// <summary>How long the pre_tokenizer regex may run on one piece of text before encoding fails.</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(2);

    // The id tables are sized by the largest id, so that id is bounded by what the file holds: at most
    // as many unused ids as used ones, plus 1024 (Llama 3 uses every id; a huge id would cost gigabytes).
    private static void CheckIdRange(Dictionary<string, int> vocab, List<AddedToken> added, string source)
    {
        long entries = vocab.Count + added.Count;
        long limit = 2 * entries + 1024;
        foreach (var (token, id) in vocab)
            if (id >= limit) throw Bad(source, $"model.vocab entry \"{token}\" has id {id}, far beyond the {entries} tokens the file holds (ids must be below {limit})");
        for (int i = 0; i < added.Count; i++)
            if (added[i].Id >= limit) throw Bad(source, $"added_tokens[{i}] has id {added[i].Id}, far beyond the {entries} tokens the file holds (ids must be below {limit})");
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement? addedTokens, string source)
    {
        var added = new List<AddedToken>();
        if (addedTokens is not { } list || list.ValueKind == JsonValueKind.Null) return added;
        if (list.ValueKind != JsonValueKind.Array) throw Bad(source, "added_tokens is not an array");
        int i = 0;
        foreach (var t in list.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("id", out var idEl) || idEl.ValueKind != JsonValueKind.Number || !idEl.TryGetInt32(out int id) || id < 0
                || OptString(t, "content") is not { Length: > 0 } content)
                throw Bad(source, $"added_tokens[{i}] needs a non-negative \"id\" and a non-empty \"content\"");
            bool special = t.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
            added.Add(new AddedToken(id, content, special));
            i++;
        }
        return added;
    }

    internal static string? OptString(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    internal static InvalidDataException Bad(string source, string what) => new($"{source}: {what}");
}
