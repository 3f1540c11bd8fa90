using PureLlama.Diagnostics;
using Xunit.Abstractions;

namespace PureLlama.Tests.Reliability;

/// <summary>
/// The short, seeded CI fuzz run: every parser meets a few thousand structure-aware mutations of its valid seed
/// file and must answer each with acceptance or a clear error naming the file — no other exception, no hang.
/// (The long campaign, deaths included, is <c>purellama fuzz</c>; see docs/reliability.md.)
/// </summary>
public sealed class FuzzTests(CorpusFixture fx, ITestOutputHelper output) : IClassFixture<CorpusFixture>
{
    private const ulong Seed = 17;

    // Inputs per parser: loading a quantized model costs milliseconds, a config microseconds (≈ 60 s in all on 2 cores).
    public static TheoryData<string, int> Parsers => new()
    {
        { "safetensors", 1000 }, { "config", 2000 }, { "tokenizer", 1500 }, { "adapter", 1000 }, { "quantized", 500 },
        { "sft", 2000 }, { "trainer-state", 2000 }, { "optimizer", 1000 }, { "gguf", 1000 },
    };

    [Fact]
    public void Every_parser_is_covered() => Parsers.Select(p => (string)p[0]).Should().BeEquivalentTo(Fuzzer.Parsers);

    [Theory]
    [MemberData(nameof(Parsers))]
    public void Mutated_inputs_give_acceptance_or_a_clear_error(string parser, int inputs)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var results = Fuzzer.Run(parser, fx.Corpus.Root, Seed, 0, inputs, TimeSpan.FromSeconds(20));
        var tally = Fuzzer.Tally(results);
        output.WriteLine($"{parser}: {results.Count} inputs in {clock.Elapsed.TotalSeconds:0.0} s: " + string.Join(", ", tally.Select(t => $"{t.Key} {t.Value}")));
        var bad = results.Where(r => r.Outcome is FuzzOutcome.Unclear or FuzzOutcome.Hang).ToList();
        foreach (var r in bad.Take(20)) output.WriteLine($"  #{r.Index} {r.File}: {r.Outcome}: {r.Error}");
        foreach (var r in results.Where(r => r.Outcome == FuzzOutcome.ClearError).DistinctBy(r => r.Error![..Math.Min(40, r.Error!.Length)]).Take(8))
            output.WriteLine($"  e.g. #{r.Index} {r.File}: {r.Error![..Math.Min(240, r.Error!.Length)]}");
        bad.Should().BeEmpty($"every input of {parser} gets a clear error or is accepted (first: {bad.FirstOrDefault()})");
        results.Should().HaveCount(inputs);
        tally[FuzzOutcome.ClearError].Should().BeGreaterThan(inputs / 4, "most mutations break the file");
    }
}

/// <summary><c>purellama fuzz</c> end to end in child processes: an injected hang and an injected death are counted, reproduced and survived.</summary>
public sealed class FuzzCommandTests(CorpusFixture fx) : IClassFixture<CorpusFixture>
{
    [Theory]
    [InlineData("die:7", "| trainer-state | 30 | ", "Death")]
    [InlineData("hang:4", "| trainer-state | 30 | ", "Hang")]
    public async Task Injected_faults_are_counted_and_the_campaign_goes_on(string fault, string row, string outcome)
    {
        string repro = Path.Combine(fx.Root, "repro-" + Guid.NewGuid().ToString("N")[..6]);
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "PureLlama.Cli.dll"), "fuzz", "--parser", "trainer-state", "--inputs", "30",
                     "--seed", "5", "--timeout", "8", "--corpus", fx.Corpus.Root, "--reproducers", repro })
            psi.ArgumentList.Add(a);
        psi.Environment["PURELLAMA_FUZZ_FAULT"] = fault;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        p.ExitCode.Should().Be(1, stdout + await stderr);
        stdout.Should().Contain(row);
        string line = stdout.Split('\n').First(l => l.StartsWith(row, StringComparison.Ordinal));
        var cells = line.Split('|', StringSplitOptions.TrimEntries);
        int column = outcome == "Death" ? 7 : 6;
        cells[column].Should().Be("1", line);
        Directory.GetFiles(repro).Should().ContainSingle(f => Path.GetFileName(f).Contains($"-{outcome}-", StringComparison.Ordinal));
    }
}

/// <summary>
/// Every input a long campaign found unclear, regenerated from (parser, seed, index) on the deterministic corpus
/// (the saved reproducer files are byte-identical to these) and kept as a regression test.
/// </summary>
public sealed class FuzzReproducerTests(CorpusFixture fx) : IClassFixture<CorpusFixture>
{
    [Theory]
    // tokenizer.json: added_tokens[i].id of a non-number type threw InvalidOperationException from TryGetInt32
    [InlineData("tokenizer", 1UL, 1008)]
    [InlineData("tokenizer", 1UL, 1066)]
    [InlineData("tokenizer", 1UL, 1366)]
    [InlineData("tokenizer", 1UL, 3682)]
    [InlineData("tokenizer", 1UL, 3690)]
    [InlineData("tokenizer", 1UL, 4898)]
    [InlineData("tokenizer", 1UL, 5140)]
    [InlineData("tokenizer", 1UL, 7934)]
    [InlineData("tokenizer", 1UL, 8392)]
    [InlineData("tokenizer", 1UL, 9808)]
    // GPTQ/AWQ components disagreeing with the config: the message named the tensor but neither the folder nor config.json
    [InlineData("quantized", 1UL, 204)]
    [InlineData("quantized", 1UL, 1127)]
    [InlineData("quantized", 1UL, 1261)]
    [InlineData("quantized", 1UL, 1991)]
    [InlineData("quantized", 1UL, 2133)]
    [InlineData("quantized", 1UL, 2148)]
    [InlineData("quantized", 1UL, 2727)]
    [InlineData("quantized", 1UL, 3967)]
    [InlineData("quantized", 1UL, 6143)]
    [InlineData("quantized", 1UL, 7068)]
    public void Reproducer_gets_a_clear_answer(string parser, ulong seed, int index)
    {
        var r = Fuzzer.Run(parser, fx.Corpus.Root, seed, index, 1, TimeSpan.FromSeconds(20)).Single();
        r.Outcome.Should().BeOneOf([FuzzOutcome.Accepted, FuzzOutcome.ClearError], r.Error);
    }
}
