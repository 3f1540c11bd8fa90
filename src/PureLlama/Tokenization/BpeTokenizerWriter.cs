using System.Text.Encodings.Web;
using System.Text.Json;
using PureLlama.IO;

namespace PureLlama.Tokenization;

/// <summary>
/// Writes a <see cref="BpeVocabulary"/> as Hugging Face tokenizer files that <see cref="Llama3Tokenizer.Load"/>
/// (and HF <c>PreTrainedTokenizerFast</c>) read: <c>tokenizer.json</c> with the Llama 3 layout (model BPE with
/// <c>ignore_merges</c>, merges as "a b", the Llama 3 Split + ByteLevel pre-tokenizer, ByteLevel decoder, the
/// special tokens as added tokens) and <c>tokenizer_config.json</c> (bos/eos and a Llama 3 chat template).
/// Both files are written atomically.
/// </summary>
public static class BpeTokenizerWriter
{
    /// <summary>
    /// The Llama 3 chat format as a Jinja template (written for this project): BOS, then per message the role header,
    /// the trimmed content and <c>&lt;|eot_id|&gt;</c>, then the assistant header when <c>add_generation_prompt</c>.
    /// </summary>
    public const string ChatTemplateJinja =
        "{{- bos_token }}{%- for message in messages %}" +
        "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + (message['content'] | trim) + '<|eot_id|>' }}" +
        "{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}";

    private static readonly JsonWriterOptions s_json = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <c>tokenizer.json</c> and <c>tokenizer_config.json</c> into <paramref name="directory"/> (created if missing).</summary>
    public static void Save(BpeVocabulary vocabulary, string directory)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, "tokenizer.json"), s => WriteTokenizerJson(vocabulary, s));
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"), s => WriteConfig(vocabulary, s));
    }

    private static void WriteTokenizerJson(BpeVocabulary v, Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, s_json);
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (var t in v.SpecialTokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", t.Id);
            w.WriteString("content", t.Content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", t.Special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("normalizer");

        WriteLlama3PreTokenizer(w);
        WriteByteLevel(w, "post_processor", addPrefixSpace: true, trimOffsets: false, useRegex: true);
        WriteByteLevel(w, "decoder", addPrefixSpace: true, trimOffsets: true, useRegex: true);

        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", true);
        w.WriteStartObject("vocab");
        for (int id = 0; id < v.Tokens.Count; id++) w.WriteNumber(v.Tokens[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in v.Merges) w.WriteStringValue(left + " " + right);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Writes the "pre_tokenizer" property of Llama 3: Split(Llama 3 regex, Isolated) then ByteLevel without regex.</summary>
    internal static void WriteLlama3PreTokenizer(Utf8JsonWriter w)
    {
        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        w.WriteStartObject();
        w.WriteString("type", "Split");
        w.WriteStartObject("pattern");
        w.WriteString("Regex", Llama3PreTokenizer.Pattern);
        w.WriteEndObject();
        w.WriteString("behavior", "Isolated");
        w.WriteBoolean("invert", false);
        w.WriteEndObject();
        WriteByteLevel(w, null, addPrefixSpace: false, trimOffsets: true, useRegex: false);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string? name, bool addPrefixSpace, bool trimOffsets, bool useRegex)
    {
        if (name is null) w.WriteStartObject(); else w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }

    private static void WriteConfig(BpeVocabulary v, Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, s_json);
        w.WriteStartObject();
        w.WriteStartObject("added_tokens_decoder");
        foreach (var t in v.SpecialTokens)
        {
            w.WriteStartObject(t.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("content", t.Content);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteString("bos_token", "<|begin_of_text|>");
        w.WriteString("chat_template", ChatTemplateJinja);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteString("eos_token", "<|end_of_text|>");
        w.WriteStartArray("model_input_names");
        w.WriteStringValue("input_ids");
        w.WriteStringValue("attention_mask");
        w.WriteEndArray();
        w.WriteNumber("model_max_length", 131072);
        w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        w.WriteEndObject();
    }
}
