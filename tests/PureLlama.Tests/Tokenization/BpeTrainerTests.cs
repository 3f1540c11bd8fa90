using System.Text;
using PureLlama.Tokenization;

namespace PureLlama.Tests.Tokenization;

/// <summary>BpeTrainer: merge order, determinism, agreement with a naive trainer, and files the tokenizer loads.</summary>
public sealed class BpeTrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "purellama-bpe-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    // Words of a made-up language plus numbers, punctuation and some non-ASCII letters.
    private static string Corpus(int seed, int words)
    {
        var rng = new Random(seed);
        string[] syllables = ["ka", "lo", "mi", "tre", "sun", "ar", "é", "ö", "на", "ро", "日", "本", "th", "ing", "qu"];
        var sb = new StringBuilder();
        for (int i = 0; i < words; i++)
        {
            int n = 1 + rng.Next(3);
            for (int k = 0; k < n; k++) sb.Append(syllables[(int)Math.Min(syllables.Length - 1, Math.Abs(rng.NextDouble() * rng.NextDouble()) * syllables.Length)]);
            int r = rng.Next(20);
            sb.Append(r switch { 0 => ". ", 1 => ",\n", 2 => " " + rng.Next(100000) + " ", 3 => "'s ", 4 => "\n\n", _ => " " });
        }
        return sb.ToString();
    }

    [Fact]
    public void Most_frequent_pair_is_merged_first_and_ties_go_to_the_smaller_ids()
    {
        // Words: "ab" ×1, " ab" ×3, " cd" ×2, " x" ×1. (a,b)=4 first; then (Ġ,ab)=3; then (c,d)=2 and (Ġ,c)=2 tie:
        // 'c' (id 66) < 'Ġ' (id 220), so "c d" before "Ġ cd"; " x" occurs once, below MinFrequency 2.
        var v = BpeTrainer.Train(["ab ab ab ab cd cd x"], new BpeTrainerOptions { VocabSize = 1000, MinFrequency = 2 });
        v.Merges.Should().Equal([("a", "b"), ("Ġ", "ab"), ("c", "d"), ("Ġ", "cd")]);
        v.Tokens.Should().HaveCount(256 + 4);
        v.Tokens[0].Should().Be("!");
        v.Tokens[220].Should().Be("Ġ"); // the GPT-2 / Llama 3 id of the space byte
        v.Tokens[256].Should().Be("ab");
        v.SpecialTokens[0].Should().Be(new AddedToken(260, "<|begin_of_text|>", true));
        v.SpecialTokens[9].Should().Be(new AddedToken(269, "<|eot_id|>", true));
    }

    [Fact]
    public void Incremental_counts_agree_with_a_naive_trainer()
    {
        string text = Corpus(7, 3000);
        var options = new BpeTrainerOptions { VocabSize = 256 + 16 + 300, MinFrequency = 2 };
        var fast = BpeTrainer.Train([text], options);
        var naive = NaiveMerges(text, 300, 2);
        fast.Merges.Should().Equal(naive);
    }

    [Fact]
    public void Training_is_deterministic_and_the_files_are_identical()
    {
        string text = Corpus(3, 2000);
        var options = new BpeTrainerOptions { VocabSize = 500 };
        BpeTokenizerWriter.Save(BpeTrainer.Train([text], options), Path.Combine(_dir, "a"));
        BpeTokenizerWriter.Save(BpeTrainer.Train([text], options), Path.Combine(_dir, "b"));
        foreach (string f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.ReadAllBytes(Path.Combine(_dir, "a", f)).Should().Equal(File.ReadAllBytes(Path.Combine(_dir, "b", f)));
    }

    [Fact]
    public void Trained_files_load_in_Llama3Tokenizer_and_round_trip_any_text()
    {
        string text = Corpus(11, 5000);
        var v = BpeTrainer.Train([text], new BpeTrainerOptions { VocabSize = 700, SpecialTokenCount = 12 });
        v.VocabSize.Should().Be(700);
        BpeTokenizerWriter.Save(v, _dir);
        var tok = Llama3Tokenizer.Load(_dir);
        tok.VocabSize.Should().Be(700);
        tok.MergeCount.Should().Be(v.Merges.Count);
        tok.IgnoreMerges.Should().BeTrue();
        tok.BosId.Should().Be(688);
        tok.EosId.Should().Be(689);
        tok.TokenToId("<|eot_id|>").Should().Be(697);
        tok.TokenToId("<|reserved_special_token_6|>").Should().Be(699);
        tok.StopTokenIds.Should().Contain([689, 697]);
        tok.ChatTemplate.Style.Should().Be(ChatTemplateStyle.Llama3);
        tok.ChatTemplate.GenerationPromptIsUnconditional.Should().BeFalse();

        string[] samples =
        [
            text[..2000], "", " ", "Hello, World! 1234567890 3.14159", "日本語のテキスト and Ünïcödé — “quotes” 🦙🦙",
            "tabs\tand\r\nnew\n\n\nlines   ", "don't YOU'LL it's", "\u0000\u0001\u007f\u00ff\uFFFD", "<|eot_id|> as text",
        ];
        foreach (string s in samples)
        {
            int[] ids = tok.Encode(s, parseSpecial: false);
            ids.Where(id => id < 0 || id >= 688).Should().BeEmpty("ordinary text never becomes a special token");
            tok.Decode(ids).Should().Be(s);
        }
        // The merges compress the training text: well under one token per byte.
        int count = tok.CountTokens(text, parseSpecial: false);
        count.Should().BeLessThan(Encoding.UTF8.GetByteCount(text) / 2);
        // Special tokens written in text are matched when asked.
        tok.Encode("<|begin_of_text|>hi<|eot_id|>").Should().StartWith([688]).And.EndWith([697]);
        tok.ChatTemplate.Encode([ChatTurn.User("kalo")]).Should().StartWith([688, 694]);
    }

    [Fact]
    public void Vocab_size_too_small_is_rejected()
    {
        var act = () => BpeTrainer.Train(["abc"], new BpeTrainerOptions { VocabSize = 200 });
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*at least 256*");
    }

    // Reference: recount every pair over every word after each merge.
    private static List<(string, string)> NaiveMerges(string text, int maxMerges, int minFrequency)
    {
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string p in Llama3PreTokenizer.Split(text)) words[p] = words.GetValueOrDefault(p) + 1;
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (char c in Enumerable.Range(0, 256).Select(b => ByteLevel.ByteToChar((byte)b)).Order())
        {
            ids[c.ToString()] = names.Count;
            names.Add(c.ToString());
        }
        var seqs = words.Select(kv => (Sym: Encoding.UTF8.GetBytes(kv.Key).Select(b => ids[ByteLevel.ByteToChar(b).ToString()]).ToList(), Count: kv.Value)).ToList();
        var merges = new List<(string, string)>();
        while (names.Count < 256 + maxMerges)
        {
            var counts = new Dictionary<(int, int), long>();
            foreach (var (sym, c) in seqs)
                for (int i = 0; i + 1 < sym.Count; i++) counts[(sym[i], sym[i + 1])] = counts.GetValueOrDefault((sym[i], sym[i + 1])) + c;
            if (counts.Count == 0) break;
            var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First();
            if (best.Value < minFrequency) break;
            var (a, b) = best.Key;
            string merged = names[a] + names[b];
            if (!ids.TryGetValue(merged, out int z)) { z = names.Count; ids[merged] = z; names.Add(merged); }
            merges.Add((names[a], names[b]));
            foreach (var (sym, _) in seqs)
                for (int i = 0; i + 1 < sym.Count; i++)
                    if (sym[i] == a && sym[i + 1] == b) { sym[i] = z; sym.RemoveAt(i + 1); }
        }
        return merges;
    }
}
