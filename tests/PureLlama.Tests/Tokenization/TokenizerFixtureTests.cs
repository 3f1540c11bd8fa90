using System.Text;
using PureLlama.Tokenization;
using Xunit.Abstractions;

namespace PureLlama.Tests.Tokenization;

/// <summary>The Llama 3 tokenizer against ids produced by other implementations (../shared/fixtures/llama3-tokenizer).</summary>
[Collection(TokenizerCollection.Name)]
public sealed class TokenizerFixtureTests(TokenizerFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Fixture_every_case_encodes_to_its_ids()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        var failures = new List<string>();
        int n = 0;
        foreach (var c in fixture.Cases)
        {
            int[] expected = c.Llama30Ids ?? c.Ids; // 3.1 names are plain text in this 3.0 file
            int[] actual = tok.Encode(c.Text, parseSpecial: c.SpecialTokensParsed);
            n++;
            if (!actual.SequenceEqual(expected))
                failures.Add($"line {c.Line} [{c.Category}] {Quote(c.Text)}: expected [{string.Join(",", expected)}] got [{string.Join(",", actual)}]");
        }
        output.WriteLine($"{n - failures.Count}/{n} fixture cases encode exactly");
        fixture.Cases.Should().HaveCountGreaterThan(40);
        failures.Should().BeEmpty();
    }

    [Fact]
    public void Fixture_every_case_decodes_to_its_text()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        foreach (var c in fixture.Cases)
        {
            // 3.1 names: this 3.0 file encodes them as plain text (their ids decode to reserved names here).
            tok.Decode(c.Llama30Ids ?? c.Ids).Should().Be(c.Text, $"line {c.Line} [{c.Category}] decodes back");
        }
    }

    [Fact]
    public void Fixture_streaming_decode_never_emits_half_a_character()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        string[] texts = ["🦙", "Ꙋ🦙", "👨‍👩‍👧‍👦", "I ❤️ NY 😀😃😄", "日本語のテキストです。", "中文English混合123文本", "हिन्दी पाठ", "café 🦙 镇"];
        foreach (string text in texts.Concat(fixture.Cases.Select(c => c.Text)))
        {
            int[] ids = tok.Encode(text);
            var stream = tok.CreateStreamDecoder();
            var sb = new StringBuilder();
            foreach (int id in ids)
            {
                string piece = stream.Append(id);
                piece.Should().NotContain("\uFFFD", $"a token of {Quote(text)} must not yield a replacement character");
                if (piece.Length > 0) char.IsHighSurrogate(piece[^1]).Should().BeFalse("a surrogate pair is never split");
                sb.Append(piece);
            }
            sb.Append(stream.Flush());
            sb.ToString().Should().Be(tok.Decode(ids)).And.Be(text);
        }
        // The llama emoji is three tokens: the first two complete nothing.
        var llama = tok.CreateStreamDecoder();
        int[] parts = tok.Encode("🦙");
        parts.Should().HaveCount(3);
        llama.Append(parts[0]).Should().BeEmpty();
        llama.Append(parts[1]).Should().BeEmpty();
        llama.Append(parts[2]).Should().Be("🦙");
    }

    [Fact]
    public void Fixture_stream_flush_of_an_incomplete_character_gives_a_replacement()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        int[] parts = tok.Encode("🦙");
        var stream = tok.CreateStreamDecoder();
        stream.Append(parts[0]).Should().BeEmpty();
        stream.Flush().Should().Be("\uFFFD").And.Be(tok.Decode(parts[..1]));
    }

    [Fact]
    public void Fixture_ignore_merges_emits_whole_vocabulary_words()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        tok.IgnoreMerges.Should().BeTrue();
        tok.Encode(" việc").Should().Equal(100769);
        // The trap: the same file without ignore_merges splits that word.
        string json = File.ReadAllText(fixture.TokenizerJson);
        json.Should().Contain("\"ignore_merges\": true");
        var merged = Llama3Tokenizer.FromJson(Encoding.UTF8.GetBytes(json.Replace("\"ignore_merges\": true", "\"ignore_merges\": false")));
        merged.IgnoreMerges.Should().BeFalse();
        int[] split = merged.Encode(" việc");
        output.WriteLine($"without ignore_merges: [{string.Join(",", split)}]");
        split.Should().NotEqual([100769]);
        merged.Decode(split).Should().Be(" việc");
    }

    [Fact]
    public void Fixture_specials_match_exactly_and_only_when_parsed()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        tok.Encode("<|eot_id|>").Should().Equal(128009);
        tok.Encode("a<|eot_id|>b").Should().Equal(tok.Encode("a").Append(128009).Concat(tok.Encode("b")));
        foreach (string nearMiss in new[] { "<|BEGIN_OF_TEXT|>", "<|eot_id|", "|eot_id|>", "<|eot_id |>", "< |eot_id| >", "<|reserved_special_token_999|>" })
        {
            int[] ids = tok.Encode(nearMiss);
            ids.Should().OnlyContain(id => id < 128000, $"{nearMiss} is plain text");
            tok.Decode(ids).Should().Be(nearMiss);
        }
        int[] plain = tok.Encode("<|begin_of_text|>hi", parseSpecial: false);
        plain.Should().OnlyContain(id => id < 128000);
        tok.Decode(plain).Should().Be("<|begin_of_text|>hi");
        tok.Encode("hi", addBos: true).Should().Equal(new[] { 128000 }.Concat(tok.Encode("hi")));
    }

    [Fact]
    public void Fixture_llama31_names_become_specials_when_the_file_says_so()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        var renamed = new StringBuilder(File.ReadAllText(fixture.TokenizerJson));
        var cases31 = fixture.Cases.Where(c => c.Llama30Ids is not null).ToList();
        cases31.Should().NotBeEmpty();
        foreach (var c in cases31)
            renamed.Replace($"\"{tok.IdToToken(c.Ids.Single())}\"", $"\"{c.Text}\"");
        var tok31 = Llama3Tokenizer.FromJson(Encoding.UTF8.GetBytes(renamed.ToString()));
        foreach (var c in cases31)
        {
            tok31.Encode(c.Text).Should().Equal(c.Ids);
            tok31.Decode(c.Ids).Should().Be(c.Text);
        }
    }

    [Fact]
    public void Fixture_decode_of_an_unknown_id_names_the_id_and_vocabulary_size()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        tok.VocabSize.Should().Be(128256);
        tok.Invoking(t => t.Decode([1, 128256])).Should().Throw<ArgumentException>().WithMessage("*128256*vocabulary size 128256*");
        tok.Invoking(t => t.Decode([-1])).Should().Throw<ArgumentException>().WithMessage("*-1*");
        tok.Invoking(t => t.CreateStreamDecoder().Append(999999)).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Fixture_skip_special_drops_control_tokens()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        int[] ids = tok.Encode("<|begin_of_text|>Hi<|eot_id|>");
        tok.Decode(ids, skipSpecial: true).Should().Be("Hi");
        var stream = tok.CreateStreamDecoder(skipSpecial: true);
        string.Concat(ids.Select(stream.Append)).Should().Be("Hi");
        tok.BosId.Should().Be(128000);
        tok.EosId.Should().Be(128001);
        tok.StopTokenIds.Should().BeEquivalentTo([128001, 128009]);
    }

    [Fact]
    public void Fixture_long_words_use_the_heap_merge_and_agree_with_the_array_merge()
    {
        var tok = fixture.RequireTokenizer(output);
        if (tok is null) return;
        var rng = new Random(7);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzéü";
        for (int trial = 0; trial < 200; trial++)
        {
            int len = rng.Next(1, 90);
            var word = new string(Enumerable.Range(0, len).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            byte[] bytes = Encoding.UTF8.GetBytes(word);
            tok.Bpe.MergeSmall(bytes).Should().Equal(tok.Bpe.MergeLarge(bytes), word);
        }
        string longText = string.Concat(Enumerable.Repeat("abracadabra", 40)) + new string(' ', 300) + "x";
        tok.Decode(tok.Encode(longText)).Should().Be(longText);
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
