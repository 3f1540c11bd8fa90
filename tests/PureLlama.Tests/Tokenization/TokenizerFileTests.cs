using System.Text;
using PureLlama.Tokenization;

namespace PureLlama.Tests.Tokenization;

/// <summary>Loading small hand-made tokenizer.json files, good and bad.</summary>
public sealed class TokenizerFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("purellama-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // A byte-level vocabulary of the 256 bytes plus a few merges, in the array or the string form.
    private static string MiniTokenizer(bool arrayMerges, bool ignoreMerges = false, string? model = null)
    {
        var vocab = new List<string>();
        for (int b = 0; b < 256; b++) vocab.Add(ByteLevel.ByteToChar((byte)b).ToString());
        string[][] merges = [["a", "b"], ["ab", "c"], ["Ġ", "ab"], ["c", "c"]];
        vocab.AddRange(["ab", "abc", "Ġab", "cc", "bcc"]);
        string Json(string s) => System.Text.Json.JsonSerializer.Serialize(s);
        string vocabJson = string.Join(",", vocab.Select((t, i) => $"{Json(t)}:{i}"));
        string mergesJson = string.Join(",", merges.Select(m => arrayMerges ? $"[{Json(m[0])},{Json(m[1])}]" : Json(m[0] + " " + m[1])));
        model ??= $"{{\"type\":\"BPE\",\"ignore_merges\":{(ignoreMerges ? "true" : "false")},\"vocab\":{{{vocabJson}}},\"merges\":[{mergesJson}]}}";
        string pattern = Json(Llama3PreTokenizer.Pattern);
        return $$"""
            {"version":"1.0","added_tokens":[{"id":300,"content":"<|x|>","special":true},{"id":301,"content":"<y>","special":false}],
             "normalizer":null,
             "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":{{pattern}}},"behavior":"Isolated","invert":false},
                              {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]},
             "model":{{model}}}
            """;
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Both_merge_forms_load_and_merge_by_rank(bool arrayMerges)
    {
        var tok = Llama3Tokenizer.Load(Write("tokenizer.json", MiniTokenizer(arrayMerges)));
        tok.MergeCount.Should().Be(4);
        tok.VocabSize.Should().Be(302);
        int Id(string t) => tok.TokenToId(t)!.Value;
        tok.Encode("abc abcc").Should().Equal(Id("abc"), Id("Ġ"), Id("abc"), Id("c"));
        tok.Encode("cc ab").Should().Equal(Id("cc"), Id("Ġab"));
        tok.Encode("x<|x|>y<y>", parseSpecial: false).Should().Equal(Id("x"), Id("<"), Id("|"), Id("x"), Id("|"), Id(">"), Id("y"), 301);
        tok.Encode("x<|x|>y<y>").Should().Equal(Id("x"), 300, Id("y"), 301);
        tok.ChatTemplate.Style.Should().Be(ChatTemplateStyle.Missing);
    }

    [Fact]
    public void Ignore_merges_prefers_a_whole_vocabulary_word()
    {
        // "bcc" is in the vocabulary but no merge builds it: merges give "b" + "cc".
        var with = Llama3Tokenizer.Load(Write("tokenizer.json", MiniTokenizer(true, ignoreMerges: true)));
        var without = Llama3Tokenizer.FromJson(Encoding.UTF8.GetBytes(MiniTokenizer(true, ignoreMerges: false)));
        with.Encode("bcc").Should().Equal(with.TokenToId("bcc")!.Value);
        without.Encode("bcc").Should().Equal(without.TokenToId("b")!.Value, without.TokenToId("cc")!.Value);
    }

    [Fact]
    public void Missing_model_is_invalid_data_naming_the_file()
    {
        string path = Write("tokenizer.json", """{"version":"1.0","added_tokens":[]}""");
        FluentActions.Invoking(() => Llama3Tokenizer.Load(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"*{path}*model*");
    }

    [Fact]
    public void Truncated_json_is_invalid_data_naming_the_file()
    {
        string full = MiniTokenizer(false);
        string path = Write("tokenizer.json", full[..(full.Length / 2)]);
        FluentActions.Invoking(() => Llama3Tokenizer.Load(_dir)).Should().Throw<InvalidDataException>()
            .WithMessage($"*{path}*not valid JSON*");
    }

    [Theory]
    [InlineData("""{"type":"WordPiece","vocab":{}}""", "*WordPiece*")]
    [InlineData("""{"type":"BPE","vocab":{"a":0},"merges":[]}""", "*lacks the byte-level token*")]
    public void Unsupported_or_broken_models_are_invalid_data(string model, string message)
    {
        string path = Write("tokenizer.json", MiniTokenizer(false, model: model));
        FluentActions.Invoking(() => Llama3Tokenizer.Load(path)).Should().Throw<InvalidDataException>().WithMessage(message);
    }

    [Fact]
    public void A_merge_of_unknown_tokens_names_its_index()
    {
        string json = MiniTokenizer(false).Replace("\"c c\"", "\"c zz\"");
        FluentActions.Invoking(() => Llama3Tokenizer.FromJson(Encoding.UTF8.GetBytes(json), sourceName: "mini.json"))
            .Should().Throw<InvalidDataException>().WithMessage("mini.json: model.merges[3]*zz*");
    }

    [Fact]
    public void Bad_config_is_invalid_data_naming_the_config_file()
    {
        string path = Write("tokenizer.json", MiniTokenizer(false));
        string config = Write("tokenizer_config.json", "{\"bos_token\": 5");
        FluentActions.Invoking(() => Llama3Tokenizer.Load(path)).Should().Throw<InvalidDataException>().WithMessage($"*{config}*");
    }

    [Fact]
    public void Llama31_template_adds_the_dated_system_turn()
    {
        // The markers the 3.1 template is recognised by; the rendering follows the 3.1 template's rules.
        string config = """{"bos_token":"<|begin_of_text|>","eos_token":"<|eot_id|>","chat_template":"{{- bos_token }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}<|start_header_id|>…<|end_header_id|>…<|eot_id|>{%- if add_generation_prompt %}"}""";
        var tok = Llama3Tokenizer.FromJson(Encoding.UTF8.GetBytes(MiniTokenizer(false)), Encoding.UTF8.GetBytes(config));
        tok.ChatTemplate.Style.Should().Be(ChatTemplateStyle.Llama31);
        tok.ChatTemplate.GenerationPromptIsUnconditional.Should().BeFalse();
        tok.ChatTemplate.Render([ChatTurn.System(" Be brief. "), ChatTurn.User("Hi"), new ChatTurn("ipython", " {\"x\": 1} ")]).Should().Be(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
            "<|start_header_id|>ipython<|end_header_id|>\n\n {\"x\": 1} <|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        tok.ChatTemplate.Render([ChatTurn.User("Hi")], addGenerationPrompt: false).Should().Be(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    }

    [Fact]
    public void A_template_that_is_not_llama3_is_reported()
    {
        string config = """{"chat_template":"{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"}""";
        var tok = Llama3Tokenizer.FromJson(Encoding.UTF8.GetBytes(MiniTokenizer(false)), Encoding.UTF8.GetBytes(config));
        tok.ChatTemplate.Style.Should().Be(ChatTemplateStyle.NotLlama3);
        tok.ChatTemplate.IsLlama3.Should().BeFalse();
    }

    [Fact]
    public void Missing_file_and_bad_arguments_are_clear()
    {
        FluentActions.Invoking(() => Llama3Tokenizer.Load(Path.Combine(_dir, "nope"))).Should().Throw<FileNotFoundException>().WithMessage("*nope*");
        FluentActions.Invoking(() => Llama3Tokenizer.Load("")).Should().Throw<ArgumentException>();
    }
}
