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
    public static TokenizerData ReadTokenizerJson(ReadOnlyMemory<byte> json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw Bad(source, $"not valid JSON ({e.Message})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "the top level is not a JSON object");
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw Bad(source, "missing the \"model\" object");
            string? type = OptString(model, "type");
            if (type is not null && type != "BPE") throw Bad(source, $"model type is \"{type}\"; only byte-level \"BPE\" is supported");
            if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True)
                throw Bad(source, "model.byte_fallback is true (a SentencePiece-style BPE); only byte-level BPE is supported");
            CheckNormalizer(root, source);
            var split = ReadPreTokenizer(root, source);

            var vocab = ReadVocab(model, source);
            var (merges, mergeCount) = ReadMerges(model, vocab, source);
            bool ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;
            var added = ReadAddedTokens(root, source);
            return new TokenizerData
            {
                Vocab = vocab, Merges = merges, MergeCount = mergeCount, IgnoreMerges = ignoreMerges,
                AddedTokens = added, CustomSplit = split,
            };
        }
    }

    /// <summary>Reads bos_token, eos_token and chat_template from <c>tokenizer_config.json</c> into <paramref name="data"/>.</summary>
    public static void ReadConfig(ReadOnlyMemory<byte> json, string source, TokenizerData data)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw Bad(source, $"not valid JSON ({e.Message})"); }
        using (doc)
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

    private static void CheckNormalizer(JsonElement root, string source)
    {
        if (root.TryGetProperty("normalizer", out var norm) && norm.ValueKind != JsonValueKind.Null)
            throw Bad(source, $"normalizer \"{OptString(norm, "type") ?? "?"}\" is not supported (Llama 3 has none)");
    }

    // Supported: Sequence[Split(regex, Isolated), ByteLevel(use_regex: false)] and ByteLevel(use_regex: false) alone
    // after a Split. Returns null when the split regex is Llama 3's own pattern.
    private static Regex? ReadPreTokenizer(JsonElement root, string source)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
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
        try { return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant); }
        catch (ArgumentException e) { throw Bad(source, $"the pre_tokenizer regex does not compile in .NET ({e.Message})"); }
    }

    private static Dictionary<string, int> ReadVocab(JsonElement model, string source)
    {
        if (!model.TryGetProperty("vocab", out var v) || v.ValueKind != JsonValueKind.Object)
            throw Bad(source, "model.vocab is missing or not an object");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in v.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw Bad(source, $"model.vocab entry \"{entry.Name}\" has no valid id");
            if (!vocab.TryAdd(entry.Name, id)) throw Bad(source, $"model.vocab has \"{entry.Name}\" twice");
        }
        if (vocab.Count == 0) throw Bad(source, "model.vocab is empty");
        for (int b = 0; b < 256; b++)
            if (!vocab.ContainsKey(ByteLevel.ByteToChar((byte)b).ToString()))
                throw Bad(source, $"model.vocab lacks the byte-level token for byte 0x{b:X2} (not a byte-level BPE vocabulary)");
        return vocab;
    }

    private static (Dictionary<long, long>, int) ReadMerges(JsonElement model, Dictionary<string, int> vocab, string source)
    {
        if (!model.TryGetProperty("merges", out var m) || m.ValueKind != JsonValueKind.Array)
            throw Bad(source, "model.merges is missing or not an array");
        var lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        var merges = new Dictionary<long, long>(m.GetArrayLength());
        int rank = 0;
        Span<char> joined = stackalloc char[256];
        foreach (var item in m.EnumerateArray())
        {
            string left, right;
            if (item.ValueKind == JsonValueKind.String)
            {
                string s = item.GetString()!;
                int space = s.IndexOf(' ');
                if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0)
                    throw Bad(source, $"model.merges[{rank}] \"{s}\" is not two tokens separated by one space");
                left = s[..space];
                right = s[(space + 1)..];
            }
            else if (item.ValueKind == JsonValueKind.Array && item.GetArrayLength() == 2
                     && item[0].ValueKind == JsonValueKind.String && item[1].ValueKind == JsonValueKind.String)
            {
                left = item[0].GetString()!;
                right = item[1].GetString()!;
            }
            else throw Bad(source, $"model.merges[{rank}] is neither \"a b\" nor [\"a\", \"b\"]");

            if (!lookup.TryGetValue(left, out int a)) throw Bad(source, $"model.merges[{rank}]: \"{left}\" is not in the vocab");
            if (!lookup.TryGetValue(right, out int b)) throw Bad(source, $"model.merges[{rank}]: \"{right}\" is not in the vocab");
            int length = left.Length + right.Length;
            Span<char> buffer = length <= joined.Length ? joined : new char[length];
            left.CopyTo(buffer);
            right.CopyTo(buffer[left.Length..]);
            if (!lookup.TryGetValue(buffer[..length], out int merged))
                throw Bad(source, $"model.merges[{rank}]: the merged token \"{left}{right}\" is not in the vocab");
            merges[(long)a << 32 | (uint)b] = (long)rank << 32 | (uint)merged; // a repeated pair keeps its last rank
            rank++;
        }
        return (merges, rank);
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, string source)
    {
        var added = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null) return added;
        if (list.ValueKind != JsonValueKind.Array) throw Bad(source, "added_tokens is not an array");
        int i = 0;
        foreach (var t in list.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out int id) || id < 0
                || OptString(t, "content") is not { Length: > 0 } content)
                throw Bad(source, $"added_tokens[{i}] needs a non-negative \"id\" and a non-empty \"content\"");
            bool special = t.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
            added.Add(new AddedToken(id, content, special));
            i++;
        }
        return added;
    }

    private static string? OptString(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    internal static InvalidDataException Bad(string source, string what) => new($"{source}: {what}");
}
