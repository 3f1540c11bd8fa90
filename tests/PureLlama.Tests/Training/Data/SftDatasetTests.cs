using PureLlama.Tests.Tokenization;
using PureLlama.Tokenization;
using PureLlama.Training.Data;
using Xunit.Abstractions;

namespace PureLlama.Tests.Training.Data;

/// <summary>SFT JSONL loading with the real Llama 3 tokenizer: formatting, assistant-only labels, truncation, bad lines.</summary>
[Collection(TokenizerCollection.Name)]
public sealed class SftDatasetTests(TokenizerFixture fixture, ITestOutputHelper output)
{
    private static SftDataset Load(Llama3Tokenizer tok, SftDatasetOptions? options, params string[] lines) =>
        SftDataset.Load(lines, "data.jsonl", tok, options);

    // The tokens the labels ask for, in order (labels are shifted: label t is the target after ids[0..t]).
    private static List<int> Targets(TrainingExample e) => e.Labels.Where(l => l != TrainingExample.IgnoreIndex).ToList();

    [Fact]
    public void Fixture_alpaca_record_learns_only_the_response_and_its_eot()
    {
        var tok = fixture.RequireTokenizer(output, "tokenizer_config.json");
        if (tok is null) return;
        var ds = Load(tok, null, """{"instruction": "Add the numbers.", "input": "2 and 3", "output": " The sum is 5. "}""");
        var e = ds.Examples.Single();
        e.Source.Should().Be(1);
        var messages = new[] { ChatTurn.User("Add the numbers.\n\n2 and 3"), ChatTurn.Assistant(" The sum is 5. ") };
        e.Ids.Should().Equal(tok.ChatTemplate.Encode(messages, addGenerationPrompt: false));
        int eot = tok.TokenToId("<|eot_id|>")!.Value;
        Targets(e).Should().Equal([.. tok.Encode("The sum is 5."), eot]);
        // The labels sit exactly where the response starts: ids up to the assistant header predict its first token.
        string header = tok.ChatTemplate.Render(messages[..1], addGenerationPrompt: true);
        int promptLength = tok.Encode(header).Length;
        e.Labels[..(promptLength - 1)].Should().OnlyContain(l => l == -100);
        e.Labels[promptLength - 1].Should().Be(tok.Encode("The")[0]);
        e.Labels[^1].Should().Be(-100);
        e.Ids[^1].Should().Be(eot);
        ds.Summary.TargetTokens.Should().Be(Targets(e).Count);
        // Without "input" the user turn is the instruction alone.
        var plain = Load(tok, null, """{"instruction": "Say hi.", "output": "Hi!"}""").Examples.Single();
        plain.Ids.Should().Equal(tok.ChatTemplate.Encode([ChatTurn.User("Say hi."), ChatTurn.Assistant("Hi!")], addGenerationPrompt: false));
    }

    [Fact]
    public void Fixture_chat_record_learns_every_assistant_turn_and_nothing_else()
    {
        var tok = fixture.RequireTokenizer(output, "tokenizer_config.json");
        if (tok is null) return;
        var ds = Load(tok, null,
            """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}""");
        var e = ds.Examples.Single();
        int eot = tok.TokenToId("<|eot_id|>")!.Value;
        Targets(e).Should().Equal([.. tok.Encode("Hello!"), eot, .. tok.Encode("4"), eot]);
        // Each target run begins right after an assistant header and ends at an eot.
        int[] ids = e.Ids;
        int assistantHeader = tok.TokenToId("assistant")!.Value;
        for (int t = 0; t + 1 < ids.Length; t++)
        {
            bool inAssistant = InsideAssistantTurn(ids, t + 1, assistantHeader, tok);
            (e.Labels[t] != -100).Should().Be(inAssistant, $"token {t + 1} ({tok.IdToToken(ids[t + 1])})");
            if (e.Labels[t] != -100) e.Labels[t].Should().Be(ids[t + 1]);
        }
        var all = Load(tok, new SftDatasetOptions { TrainOnInputs = true },
            """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}""").Examples.Single();
        all.Labels[..^1].Should().Equal(all.Ids[1..]);
    }

    [Fact]
    public void Fixture_llama31_template_masks_the_preamble_and_maps_messages_after_the_system_turn()
    {
        if (fixture.RequireTokenizer(output) is null) return;
        // The fixture vocabulary with a (shortened) 3.1-style template: a system turn with the knowledge-cutoff lines always comes first.
        string config = """{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": "<|start_header_id|>system<|end_header_id|> Cutting Knowledge Date: December 2023 <|eot_id|>"}""";
        var tok = Llama3Tokenizer.FromJson(File.ReadAllBytes(fixture.TokenizerJson), System.Text.Encoding.UTF8.GetBytes(config), "llama31");
        tok.ChatTemplate.Style.Should().Be(ChatTemplateStyle.Llama31);
        ChatTurn[] turns = [ChatTurn.System("Sys"), ChatTurn.User("Q"), ChatTurn.Assistant("A")];
        int[] ids = tok.ChatTemplate.Encode(turns, addGenerationPrompt: false, parseSpecialInContent: false, out int[] owner);
        ids.Should().Equal(tok.ChatTemplate.Encode(turns, addGenerationPrompt: false));
        int eot = tok.TokenToId("<|eot_id|>")!.Value;
        ids.Where((_, t) => owner[t] == 0).Should().Equal([.. tok.Encode("Sys"), eot]);
        ids.Where((_, t) => owner[t] == 1).Should().Equal([.. tok.Encode("Q"), eot]);
        ids.Where((_, t) => owner[t] == 2).Should().Equal([.. tok.Encode("A"), eot]);
        // Without a system message the preamble's own turn belongs to no message.
        tok.ChatTemplate.Encode(turns[1..], false, false, out int[] owner2);
        owner2.Count(o => o == -1).Should().BeGreaterThan(10);
        owner2.Max().Should().Be(1);
        var e = SftDataset.Load(["""{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}"""], "x", tok).Examples.Single();
        Targets(e).Should().Equal([.. tok.Encode("A"), eot]);
    }

    // Whether token i lies in an assistant message's content or is its closing eot (walks back to the last header).
    private static bool InsideAssistantTurn(int[] ids, int i, int assistantRole, Llama3Tokenizer tok)
    {
        int start = tok.TokenToId("<|start_header_id|>")!.Value, end = tok.TokenToId("<|end_header_id|>")!.Value;
        int eot = tok.TokenToId("<|eot_id|>")!.Value;
        if (ids[i] == start || ids[i] == end || ids[i] == tok.BosId) return false;
        int k = i;
        while (k >= 0 && ids[k] != end) { if (ids[k] == eot && k != i) return false; if (ids[k] == start) return false; k--; }
        if (k < 0) return false;
        // ids[k] is end_header; the header body is between the preceding start and k; the "\n\n" after it is not content.
        if (k + 1 == i) return false;
        return ids[k - 1] == assistantRole && ids[k - 2] == start;
    }

    [Fact]
    public void Fixture_text_record_is_bos_text_eos_all_learned()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        var e = Load(tok, null, """{"text": "Plain text <|eot_id|> stays text."}""").Examples.Single();
        e.Ids.Should().Equal([tok.BosId!.Value, .. tok.Encode("Plain text <|eot_id|> stays text.", parseSpecial: false), tok.EosId!.Value]);
        e.Labels[..^1].Should().Equal(e.Ids[1..]);
        e.Labels[^1].Should().Be(-100);
    }

    [Fact]
    public void Fixture_long_examples_are_truncated_and_counted()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        string longText = string.Join(' ', Enumerable.Repeat("word", 100));
        var ds = Load(tok, new SftDatasetOptions { MaxSeqLength = 32 },
            $$"""{"text": "{{longText}}"}""",
            "",
            """{"instruction": "Short.", "output": "Yes."}""",
            $$"""{"instruction": "{{longText}}", "output": "Never reached."}""");
        ds.Summary.Lines.Should().Be(3);
        ds.Summary.Truncated.Should().Be(2);
        ds.Summary.NoTargets.Should().Be(1, "the long prompt leaves no response tokens");
        ds.Examples.Select(e => e.Source).Should().Equal(1, 3);
        ds.Examples[0].Length.Should().Be(32);
        ds.Summary.Tokens.Should().Be(ds.Examples.Sum(e => e.Length));
        ds.Summary.Problems.Should().ContainSingle().Which.Should().StartWith("data.jsonl:4:");
        output.WriteLine(ds.Summary.ToString());
    }

    [Theory]
    [InlineData("""{"instruction": "x", "output": "y",}""", "not valid JSON")]
    [InlineData("""[1, 2]""", "expected a JSON object")]
    [InlineData("""{"prompt": "x"}""", "no \"messages\", \"instruction\" or \"text\"")]
    [InlineData("""{"instruction": "x"}""", "missing \"output\"")]
    [InlineData("""{"instruction": "x", "output": "  "}""", "\"output\" is empty")]
    [InlineData("""{"instruction": "x", "output": 3}""", "\"output\" is Number")]
    [InlineData("""{"messages": []}""", "\"messages\" is empty")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]}""", "messages[1] has role \"bot\"")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}""", "only the first message")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}]}""", "no assistant message")]
    [InlineData("""{"messages": [{"role": "assistant"}]}""", "has no string \"content\"")]
    [InlineData("""{"text": ""}""", "\"text\" is empty")]
    public void Fixture_bad_lines_name_the_file_line_and_problem(string bad, string problem)
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        string good = """{"text": "fine"}""";
        var act = () => Load(tok, null, good, good, bad, good);
        act.Should().Throw<InvalidDataException>().WithMessage($"data.jsonl:3: *{problem}*");
        var skipped = Load(tok, new SftDatasetOptions { SkipInvalidLines = true }, good, good, bad, good);
        skipped.Summary.Skipped.Should().Be(1);
        skipped.Summary.Examples.Should().Be(3);
        skipped.Summary.Problems.Single().Should().Contain("data.jsonl:3:").And.Contain(problem);
    }

    [Fact]
    public void Fixture_explicit_format_and_files_and_eval_split()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        var wrongShape = () => Load(tok, new SftDatasetOptions { Format = SftFormat.Alpaca }, """{"text": "t"}""");
        wrongShape.Should().Throw<InvalidDataException>().WithMessage("*missing \"instruction\"*");
        string path = Path.Combine(Path.GetTempPath(), $"purellama-sft-{Guid.NewGuid():N}.jsonl");
        try
        {
            File.WriteAllLines(path, Enumerable.Range(0, 40).Select(i => $$"""{"instruction": "Echo {{i}}", "output": "{{i}}"}"""));
            var ds = SftDataset.Load(path, tok);
            ds.Summary.Examples.Should().Be(40);
            var (train, eval) = ds.Split(0.25, seed: 1);
            eval.Should().HaveCount(10);
            train.Select(e => e.Source).Intersect(eval.Select(e => e.Source)).Should().BeEmpty();
            ds.Split(0.25, seed: 1).Eval.Select(e => e.Source).Should().Equal(eval.Select(e => e.Source));
            var batcher = new SequenceBatcher(train, new BatcherOptions { MaxSeqLength = 256, Pack = true, Seed = 2, MicroBatchSize = 2 });
            batcher.EpochSequences(0).Sum(s => s.ExampleCount).Should().Be(30);
        }
        finally { File.Delete(path); }
        var missing = () => SftDataset.Load(path, tok);
        missing.Should().Throw<FileNotFoundException>();
    }
}
