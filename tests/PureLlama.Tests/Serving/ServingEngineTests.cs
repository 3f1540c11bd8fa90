using PureLlama.Llama;
using PureLlama.Serving;
using PureLlama.Tensors;
using static PureLlama.Tests.Serving.ServingTestSupport;

namespace PureLlama.Tests.Serving;

public class ServingEngineTests
{
    [Fact]
    public async Task Greedy_tokens_are_the_same_alone_batched_and_from_generate()
    {
        using var runtime = TinyRuntime();
        var rng = new Rng(5);
        var prompts = Enumerable.Range(0, 8).Select(i => RandomPrompt(rng, 3 + 5 * i)).ToArray();   // 3 … 38 tokens
        var expected = prompts.Select(p => runtime.Generate(p, Greedy(20)).Select(t => t.Id).ToArray()).ToArray();

        foreach (var options in new[] { new ServingOptions { KvMemoryBytes = 1 << 20, BlockSize = 16, MaxBatchTokens = 64 },
                                         new ServingOptions { KvMemoryBytes = 1 << 20, BlockSize = 5, MaxBatchTokens = 9, MaxRunningSequences = 4, PrefixCaching = false } })
        {
            using var engine = ServingEngine.Start(runtime, options);
            for (int i = 0; i < prompts.Length; i++)   // alone
                (await Collect(engine.Generate(new EngineRequest(prompts[i], Greedy(20))))).Select(t => t.Id).Should().Equal(expected[i], $"prompt {i} alone, block {options.BlockSize}");
            var together = await Task.WhenAll(prompts.Select(p => Collect(engine.Generate(new EngineRequest(p, Greedy(20))))));
            for (int i = 0; i < prompts.Length; i++)
            {
                together[i].Select(t => t.Id).Should().Equal(expected[i], $"prompt {i} among 8, block {options.BlockSize}");
                together[i][^1].Finish.Should().NotBeNull();
                together[i].Take(together[i].Count - 1).Should().OnlyContain(t => t.Finish == null);
                together[i][0].PromptTokens.Should().Be(prompts[i].Length);
            }
            var idle = await Idle(engine);
            idle.KvBlocksUsed.Should().Be(0);
        }
    }
}
