using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Llama;

/// <summary>Greedy decoding of shared/fixtures/llama3-tiny against transformers' 20 tokens, on every backend.</summary>
public class LlamaGenerationFixtureTests(ITestOutputHelper output)
{
    private static readonly SamplingOptions Greedy20 = new() { MaxNewTokens = 20, StopTokenIds = [] };

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_greedy_tokens_with_the_kv_cache_match_transformers(string device)
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var llama = LlamaRuntime.FromModel(LlamaFixtures.LoadModel(tiny, "f32", Device.Parse(device)));
        var ids = llama.Generate(LlamaFixtures.Prompt, Greedy20).Select(t => t.Id).ToArray();
        ids.Should().Equal(LlamaFixtures.GreedyNewTokens);
        llama.LastStats!.StopReason.Should().Be(StopReason.MaxNewTokens);
        llama.LastStats.PromptTokens.Should().Be(16);
        llama.LastStats.DecodeSteps.Should().Be(19);
        output.WriteLine($"{device}: {llama.LastStats}");
    }

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_greedy_tokens_with_full_recompute_match_transformers(string device)
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var dev = Device.Parse(device);
        using var model = LlamaFixtures.LoadModel(tiny, "f32", dev);
        using var _ = GradMode.NoGrad();
        var seq = new List<int>(LlamaFixtures.Prompt);
        for (int step = 0; step < 20; step++)
        {
            using var ids = Tensor.FromArray(seq.ToArray(), new Shape(seq.Count), dev);
            using var logits = model.Forward(ids);                         // [T, vocab], no cache
            var all = logits.ToFloatArray();
            seq.Add(Sampler.ArgMax(all.AsSpan((seq.Count - 1) * 256, 256)));
        }
        seq.Skip(16).Should().Equal(LlamaFixtures.GreedyNewTokens);
    }

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_bf16_weights_greedy_tokens_match_transformers(string device)
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var llama = LlamaRuntime.FromModel(LlamaFixtures.LoadModel(tiny, "bf16", Device.Parse(device)));
        var ids = llama.Generate(LlamaFixtures.Prompt, Greedy20).Select(t => t.Id).ToArray();
        ids.Should().Equal(LlamaFixtures.GreedyBf16WeightsF32Compute);
    }

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_batched_generation_gives_each_sequence_its_tokens_alone(string device)
    {
        // vLLM #5898: greedy output must not change with batch composition. Three prompts of
        // different lengths, batched prefill and batched decode, against each one alone.
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var llama = LlamaRuntime.FromModel(LlamaFixtures.LoadModel(tiny, "f32", Device.Parse(device)), contextLength: 64);
        int[][] prompts = [LlamaFixtures.Prompt, LlamaFixtures.Prompt[..5], [1, 7, 200, 33, 90, 91, 17, 250, 3]];
        var options = new SamplingOptions { MaxNewTokens = 12, StopTokenIds = [] };
        var batched = llama.GenerateBatch(prompts, options);
        for (int s = 0; s < prompts.Length; s++)
        {
            var alone = llama.Generate(prompts[s], options).Select(t => t.Id).ToArray();
            batched[s].Should().Equal(alone, $"sequence {s} must not depend on its batch");
        }
        batched[0].Should().Equal(LlamaFixtures.GreedyNewTokens[..12]);
    }

    [Fact]
    public void Fixture_seeded_sampling_is_reproducible_and_seed_dependent()
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var llama = LlamaRuntime.FromModel(LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu));
        var options = new SamplingOptions { MaxNewTokens = 24, Temperature = 1.5f, TopK = 40, TopP = 0.95f, MinP = 0.01f, RepetitionPenalty = 1.1f, Seed = 7, StopTokenIds = [] };
        var a = llama.Generate(LlamaFixtures.Prompt, options).Select(t => t.Id).ToArray();
        var b = llama.Generate(LlamaFixtures.Prompt, options).Select(t => t.Id).ToArray();
        var c = llama.Generate(LlamaFixtures.Prompt, options with { Seed = 8 }).Select(t => t.Id).ToArray();
        a.Should().Equal(b);
        a.Should().NotEqual(c);
    }

    [Fact]
    public void Fixture_generation_stops_on_a_stop_token_and_emits_it_last()
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var llama = LlamaRuntime.FromModel(LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu));
        // the 4th greedy token (196) as the stop id
        var ids = llama.Generate(LlamaFixtures.Prompt, new SamplingOptions { MaxNewTokens = 20, StopTokenIds = [196] }).Select(t => t.Id).ToArray();
        ids.Should().Equal(24, 73, 50, 196);
        llama.LastStats!.StopReason.Should().Be(StopReason.StopToken);
        llama.LastStats.StopTokenId.Should().Be(196);
    }

    [Fact]
    public void Fixture_bad_inputs_are_clear_errors()
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var llama = LlamaRuntime.FromModel(LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu), contextLength: 16);
        llama.Invoking(l => l.Generate(Array.Empty<int>())).Should().Throw<ArgumentException>().WithMessage("*empty*");
        llama.Invoking(l => l.Generate(LlamaFixtures.Prompt)).Should().Throw<ContextLengthExceededException>().WithMessage("*16 tokens*context*16*");
        llama.Invoking(l => l.Generate([1, 2, 256])).Should().Throw<ArgumentException>().WithMessage("*Token id 256 at position 2*vocabulary [0, 256)*");
        llama.Invoking(l => l.Generate([1, -1])).Should().Throw<ArgumentException>().WithMessage("*Token id -1*");
        llama.Invoking(l => l.Generate("hello")).Should().Throw<InvalidOperationException>().WithMessage("*no tokenizer.json*");
        llama.Invoking(l => l.Generate([1, 2], new SamplingOptions { TopP = 0 })).Should().Throw<ArgumentException>().WithMessage("*top_p*");
        llama.Invoking(l => l.Logits([])).Should().Throw<ArgumentException>();
        using var cache = llama.Model.CreateCache(4);
        llama.Model.Invoking(m => m.Forward([new[] { 1, 2, 3, 4, 5 }], [cache])).Should().Throw<ContextLengthExceededException>().WithMessage("*5 new token*4 positions*");
        llama.Model.Invoking(m => m.Forward([Array.Empty<int>()], [cache])).Should().Throw<ArgumentException>().WithMessage("*empty*");
        // stopping early leaves the generation usable again
        llama.Generate([1, 2, 3], new SamplingOptions { MaxNewTokens = 5, StopTokenIds = [] }).Take(2).Should().HaveCount(2);
        llama.LastStats!.StopReason.Should().Be(StopReason.Cancelled);
        llama.Generate([1, 2, 3], new SamplingOptions { MaxNewTokens = 5, StopTokenIds = [] }).Should().HaveCount(5);
    }

    [Fact]
    public async Task Fixture_async_generation_streams_the_same_tokens()
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var llama = LlamaRuntime.FromModel(LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu));
        var ids = new List<int>();
        await foreach (var t in llama.GenerateAsync(LlamaFixtures.Prompt, new SamplingOptions { MaxNewTokens = 20, StopTokenIds = [] }))
            ids.Add(t.Id);
        ids.Should().Equal(LlamaFixtures.GreedyNewTokens);
    }
}
