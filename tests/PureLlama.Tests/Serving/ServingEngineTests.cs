using PureLlama.Llama;
using PureLlama.Serving;
using PureLlama.Tensors;
using static PureLlama.Tests.Serving.ServingTestSupport;

namespace PureLlama.Tests.Serving;

public class ServingEngineTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Fixture_eight_concurrent_greedy_requests_match_alone_and_generate()
    {
        if (PureLlama.Tests.Llama.LlamaFixtures.FindTiny() is not { } tiny) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var runtime = LlamaRuntime.FromModel(PureLlama.Tests.Llama.LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu), contextLength: 256);
        var rng = new Rng(12);
        var prompts = Enumerable.Range(0, 8).Select(i => { var p = RandomPrompt(rng, 4 + 9 * i); for (int j = 1; j < p.Length; j++) p[j] += 3 * j % 190; return p; }).ToArray();
        var sampling = Greedy(24) with { StopTokenIds = [] };
        var expected = prompts.Select(p => runtime.Generate(p, sampling).Select(t => t.Id).ToArray()).ToArray();
        using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 4 << 20, MaxBatchTokens = 48 });
        var alone = new List<int[]>();
        foreach (var p in prompts) alone.Add([.. (await Collect(engine.Generate(new EngineRequest(p, sampling)))).Select(t => t.Id)]);
        var together = await Task.WhenAll(prompts.Select(p => Collect(engine.Generate(new EngineRequest(p, sampling)))));
        for (int i = 0; i < prompts.Length; i++)
        {
            alone[i].Should().Equal(expected[i], $"prompt {i} ({prompts[i].Length} tokens) alone");
            together[i].Select(t => t.Id).Should().Equal(expected[i], $"prompt {i} ({prompts[i].Length} tokens) among 8");
        }
    }

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

    [Theory]
    [InlineData("nf4", true)]
    [InlineData("int8", true)]
    [InlineData("nf4", false)]
    [InlineData("int8", false)]
    public async Task Quantized_weights_keep_greedy_tokens_batch_invariant(string format, bool exactDequant)
    {
        // false: the int8 dot-product path (the inference default), invariant for every batch by construction.
        using var path = PureLlama.Compute.QuantizedInference.Scope(exactDequant);
        var config = Config with { HiddenSize = 64, IntermediateSize = 128, HeadDim = 16 };
        var model = LlamaModel.CreateRandom(config, Device.Cpu, 21, 0.3f);
        foreach (var (name, linear) in model.NamedLinears().Where(n => n.Name != "lm_head").ToList())
        {
            var w = PureLlama.Nn.LinearExtensions.DenseWeight(linear);
            PureLlama.Tensors.QuantizedTensor q = format == "nf4" ? PureLlama.Quantization.Nf4Quantizer.Quantize(w) : PureLlama.Quantization.Int8Quantizer.Quantize(w);
            model.ReplaceLinear(name, new PureLlama.Nn.QuantLinear(q)).Dispose();
        }
        using var runtime = LlamaRuntime.FromModel(model);
        var rng = new Rng(31);
        var prompts = Enumerable.Range(0, 8).Select(i => RandomPrompt(rng, 2 + 6 * i)).ToArray();
        var expected = prompts.Select(p => runtime.Generate(p, Greedy(16)).Select(t => t.Id).ToArray()).ToArray();
        using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20, MaxBatchTokens = 40 });
        var together = await Task.WhenAll(prompts.Select(p => Collect(engine.Generate(new EngineRequest(p, Greedy(16))))));
        for (int i = 0; i < prompts.Length; i++) together[i].Select(t => t.Id).Should().Equal(expected[i], $"{format} (exact {exactDequant}) prompt {i} among 8");
    }
}
