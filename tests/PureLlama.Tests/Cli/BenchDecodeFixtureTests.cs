using System.CommandLine;
using PureLlama.Cli.Commands;
using PureLlama.Tests.Llama;

namespace PureLlama.Tests.Cli;

/// <summary><c>bench-decode</c> on the tiny fixture with prompts shorter than its 8-token warm-up prompt, and with several timed runs.</summary>
[Collection(ConsoleCaptureCollection.Name)]
public class BenchDecodeFixtureTests
{
    [Theory]
    [InlineData(4, 1, 1)]
    [InlineData(1, 1, 1)]
    [InlineData(3, 2, 3)]
    public void Bench_decode_runs_with_a_prompt_shorter_than_the_warm_up_Fixture(int prompt, int decode, int runs)
    {
        var tiny = Path.Combine(LlamaFixtures.FindTiny(), "bf16");
        var root = new RootCommand("test") { BenchDecodeCommand.Create() };
        var output = new StringWriter();
        var saved = Console.Out;
        var savedError = Console.Error;
        Console.SetOut(output);
        Console.SetError(output);
        int rc;
        try
        {
            rc = root.Parse(["bench-decode", "--model", tiny, "--prompt", $"{prompt}", "--decode", $"{decode}", "--loading", "copied", "--bandwidth-gbs", "60", "--runs", $"{runs}"])
                .Invoke(new InvocationConfiguration { Output = output, Error = output });
        }
        finally { Console.SetOut(saved); Console.SetError(savedError); }
        rc.Should().Be(0, output.ToString());
        output.ToString().Should().Contain($"prefill {prompt} tok:");
        if (runs > 1) output.ToString().Should().Contain($"{runs} timed runs, decode tok/s", "each timed run is listed before the best of them");
    }
}
