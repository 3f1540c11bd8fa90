using System.Text.Encodings.Web;
using System.Text.Json;
using PureLlama.IO.Gguf;
using PureLlama.Tokenization;

namespace PureLlama.Llama;

/// <summary>
/// The Llama 3 tokenizer ↔ GGUF <c>tokenizer.ggml.*</c> keys. A GGUF tokenizer of model <c>gpt2</c> with the
/// <c>llama-bpe</c> pre-tokenizer is byte-level BPE with Llama 3's split regex and <c>ignore_merges</c>: tokens of
/// type normal form the BPE vocabulary, control tokens (type 3) are special added tokens, user-defined ones (type 4)
/// non-special added tokens, unused ones (type 5, llama.cpp's "[PAD…]" fillers) are left out; merges are "a b"
/// strings in rank order. Reading builds the same tokenizer.json a Hugging Face folder would hold and loads it, so
/// every check of <see cref="Llama3Tokenizer"/> applies.
/// </summary>
internal static class GgufTokenizer
{
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;
    private static readonly string[] s_llama3Pre = ["llama-bpe", "llama3", "llama-v3"];

    /// <summary>The tokenizer of the file, or null when it has no <c>tokenizer.ggml.model</c>.</summary>
    public static Llama3Tokenizer? Read(GgufHeader h)
    {
        if (HfJson(h) is not var (tokenizerJson, configJson)) return null;
        try
        {
            return Llama3Tokenizer.FromJson(tokenizerJson, configJson, $"{h.Path} (tokenizer.ggml.*)");
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"GGUF file '{h.Path}': its tokenizer is invalid: {e.Message}", e);
        }
    }

    /// <summary>
    /// The Hugging Face tokenizer.json and tokenizer_config.json (bos/eos tokens, chat template) that the file's
    /// <c>tokenizer.ggml.*</c> keys describe, or null when it has no <c>tokenizer.ggml.model</c>.
    /// </summary>
    public static (byte[] TokenizerJson, byte[] ConfigJson)? HfJson(GgufHeader h)
    {
        string? model = h.OptionalString("tokenizer.ggml.model");
        if (model is null) return null;
        if (model != "gpt2")
            throw h.Error("tokenizer.ggml.model", $"is '{model}'; PureLlama reads byte-level BPE tokenizers ('gpt2', as Llama 3 has).");
        string pre = h.OptionalString("tokenizer.ggml.pre") ?? "default";
        if (!s_llama3Pre.Contains(pre))
            throw h.Error("tokenizer.ggml.pre", $"is '{pre}'; PureLlama supports Llama 3's pre-tokenizer ('llama-bpe').");
        var tokens = (string[])(h.OptionalArray("tokenizer.ggml.tokens", GgufValueType.String) ?? throw h.Error("tokenizer.ggml.tokens", "is missing.")).Items;
        var merges = (string[])(h.OptionalArray("tokenizer.ggml.merges", GgufValueType.String) ?? throw h.Error("tokenizer.ggml.merges", "is missing.")).Items;
        long[]? types = null;
        if (h.OptionalArray("tokenizer.ggml.token_type", GgufValueType.Int32) is { } tt)
        {
            types = (long[])tt.Items;
            if (types.Length != tokens.Length)
                throw h.Error("tokenizer.ggml.token_type", $"has {types.Length} entries but tokenizer.ggml.tokens has {tokens.Length}.");
        }
        int? bos = (int?)h.OptionalInteger("tokenizer.ggml.bos_token_id", 0, tokens.Length - 1);
        int? eos = (int?)h.OptionalInteger("tokenizer.ggml.eos_token_id", 0, tokens.Length - 1);
        string? template = h.OptionalString("tokenizer.chat_template");

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("added_tokens");
            for (int id = 0; id < tokens.Length; id++)
            {
                int type = types is null ? Normal : (int)types[id];
                if (type is not (Control or UserDefined)) continue;
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", tokens[id]);
                w.WriteBoolean("special", type == Control);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            BpeTokenizerWriter.WriteLlama3PreTokenizer(w);
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteBoolean("ignore_merges", true);
            w.WriteStartObject("vocab");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int id = 0; id < tokens.Length; id++)
            {
                int type = types is null ? Normal : (int)types[id];
                if (type is Control or UserDefined or Unused) continue;
                if (type is not (Normal or Unknown or Byte))
                    throw h.Error("tokenizer.ggml.token_type", $"gives token {id} the type {type}, which is not a GGUF token type (1–6).");
                if (!seen.Add(tokens[id])) throw h.Error("tokenizer.ggml.tokens", $"holds \"{tokens[id]}\" twice (second at id {id}).");
                w.WriteNumber(tokens[id], id);
            }
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var m in merges) w.WriteStringValue(m);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        var config = new MemoryStream();
        using (var w = new Utf8JsonWriter(config, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true }))
        {
            w.WriteStartObject();
            if (bos is int b) w.WriteString("bos_token", tokens[b]);
            if (eos is int e) w.WriteString("eos_token", tokens[e]);
            if (template is not null) w.WriteString("chat_template", template);
            w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            w.WriteEndObject();
        }
        return (json.ToArray(), config.ToArray());
    }

    /// <summary>The <c>tokenizer.*</c> key/values of <paramref name="tokenizer"/> for a model of <paramref name="vocabSize"/> rows.</summary>
    public static IEnumerable<KeyValuePair<string, GgufValue>> Write(Llama3Tokenizer tokenizer, int vocabSize)
    {
        if (tokenizer.VocabSize > vocabSize)
            throw new InvalidDataException($"The tokenizer '{tokenizer.Source}' has {tokenizer.VocabSize} ids, more than the model's {vocabSize} embedding rows.");
        var tokens = new string[vocabSize];
        var types = new long[vocabSize];
        for (int id = 0; id < vocabSize; id++)
        {
            string? t = id < tokenizer.VocabSize ? tokenizer.IdToTokenOrNull(id) : null;
            tokens[id] = t ?? $"[PAD{id}]";
            types[id] = t is null ? Unused : Normal;
        }
        foreach (var added in tokenizer.AddedTokens) types[added.Id] = added.Special ? Control : UserDefined;
        var merges = tokenizer.Bpe.MergesByRank().Select(m => tokens[m.Left] + " " + tokens[m.Right]).ToArray();
        static KeyValuePair<string, GgufValue> Kv(string k, GgufValue v) => new(k, v);
        static GgufValue Arr(GgufValueType t, Array items) => new(GgufValueType.Array, new GgufArray(t, items, 0, 0));
        yield return Kv("tokenizer.ggml.model", GgufValue.Of("gpt2"));
        yield return Kv("tokenizer.ggml.pre", GgufValue.Of("llama-bpe"));
        yield return Kv("tokenizer.ggml.tokens", Arr(GgufValueType.String, tokens));
        yield return Kv("tokenizer.ggml.token_type", Arr(GgufValueType.Int32, types));
        yield return Kv("tokenizer.ggml.merges", Arr(GgufValueType.String, merges));
        if (tokenizer.BosId is int bos) yield return Kv("tokenizer.ggml.bos_token_id", GgufValue.OfUInt32((uint)bos));
        if (tokenizer.EosId is int eos) yield return Kv("tokenizer.ggml.eos_token_id", GgufValue.OfUInt32((uint)eos));
        yield return Kv("tokenizer.ggml.add_bos_token", GgufValue.OfBool(tokenizer.BosId is not null));
        if (tokenizer.ChatTemplate.TemplateText is { } template) yield return Kv("tokenizer.chat_template", GgufValue.Of(template));
    }
}
