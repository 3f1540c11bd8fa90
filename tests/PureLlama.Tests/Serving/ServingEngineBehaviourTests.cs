using PureLlama.Llama;
using PureLlama.Serving;
using PureLlama.Tensors;
using PureLlama.Training;
using static PureLlama.Tests.Serving.ServingTestSupport;

namespace PureLlama.Tests.Serving;

public class ServingEngineBehaviourTests
{
    [Fact]
    public async Task No_block_leaks_after_ten_thousand_requests_with_random_cancellations()
    {
        using var runtime = TinyRuntime(3);
        using var engine = ServingEngine.Start(runtime, new ServingOptions
        {
            KvMemoryBytes = 48 * 2 * 2 * 4 * 2 * 8 * 4, BlockSize = 4, MaxBatchTokens = 96, MaxRunningSequences = 32, MaxWaitingRequests = 100_000,
        });   // 48 blocks of 4: the pool runs dry under load, so preemption runs too
        var rng = new Rng(17);
        int generated = 0, cancelled = 0;
        const int requests = 10_000, wave = 200;
        for (int w = 0; w < requests / wave; w++)
        {
            var tasks = new List<Task>();
            for (int i = 0; i < wave; i++)
            {
                var prompt = RandomPrompt(rng, 1 + rng.NextInt(24));
                int maxNew = 1 + rng.NextInt(6), mode = rng.NextInt(4), cutAfter = rng.NextInt(3);
                var request = new EngineRequest(prompt, Greedy(maxNew), Logprobs: mode == 3, TopLogprobs: mode == 3 ? 2 : 0);
                tasks.Add(Task.Run(async () =>
                {
                    using var cts = new CancellationTokenSource();
                    if (mode == 1) cts.Cancel();                         // cancelled before it starts
                    int seen = 0;
                    try
                    {
                        await foreach (var t in engine.Generate(request, cts.Token).WithCancellation(cts.Token))
                        {
                            seen++;
                            if (mode == 2 && seen > cutAfter) break;     // enumerator disposed early
                            if (mode == 0 && seen == cutAfter + 1 && cutAfter == 2) cts.Cancel();
                        }
                    }
                    catch (OperationCanceledException) { Interlocked.Increment(ref cancelled); }
                    Interlocked.Add(ref generated, seen);
                }));
            }
            await Task.WhenAll(tasks);
        }
        var m = await Idle(engine);
        m.Running.Should().Be(0);
        m.Waiting.Should().Be(0);
        m.KvBlocksUsed.Should().Be(0, "every block comes back when its sequences end");
        m.KvBlocksFree.Should().Be(48);
        m.RequestsFinished.Should().Be(requests);
        cancelled.Should().BeGreaterThan(0);
        generated.Should().BeGreaterThan(requests);
    }

    [Fact]
    public async Task A_dry_pool_preempts_and_recomputes_without_changing_anyones_tokens()
    {
        using var runtime = TinyRuntime(4);
        var rng = new Rng(9);
        var prompts = Enumerable.Range(0, 6).Select(i => RandomPrompt(rng, 6 + 4 * i)).ToArray();
        var expected = prompts.Select(p => runtime.Generate(p, Greedy(24)).Select(t => t.Id).ToArray()).ToArray();
        // 24 blocks of 4 = 96 positions: one sequence always fits, six (≤ 50 positions each) do not.
        long blockBytes = 2L * 2 * 4 * 2 * 8 * 4;
        using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 24 * blockBytes, BlockSize = 4, MaxBatchTokens = 64, MaxRunningSequences = 6 });
        var results = await Task.WhenAll(prompts.Select(p => Collect(engine.Generate(new EngineRequest(p, Greedy(24))))));
        for (int i = 0; i < prompts.Length; i++) results[i].Select(t => t.Id).Should().Equal(expected[i], $"prompt {i}");
        var m = await Idle(engine);
        m.Preemptions.Should().BeGreaterThan(0);
        m.KvBlocksUsed.Should().Be(0);
    }

    [Fact]
    public async Task A_repeated_prefix_comes_from_the_cache_and_changes_nothing()
    {
        using var runtime = TinyRuntime(5);
        var rng = new Rng(2);
        var system = RandomPrompt(rng, 37);
        int[] a = [.. system, 5, 6, 7], b = [.. system, 9];
        using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20, BlockSize = 8 });
        var first = await Collect(engine.Generate(new EngineRequest(a, Greedy(10))));
        first[0].CachedPromptTokens.Should().Be(0);
        var second = await Collect(engine.Generate(new EngineRequest(b, Greedy(10))));
        second[0].CachedPromptTokens.Should().Be(32, "the four full blocks of the shared 37-token prefix");
        second.Select(t => t.Id).Should().Equal(runtime.Generate(b, Greedy(10)).Select(t => t.Id));
        var again = await Collect(engine.Generate(new EngineRequest(a, Greedy(10))));
        again[0].CachedPromptTokens.Should().Be(32, "the full blocks before the one holding the prompt's last token (40 = 5 × 8: the fifth is recomputed)");
        again.Select(t => t.Id).Should().Equal(first.Select(t => t.Id));
        (await Idle(engine)).PrefixCacheHitTokens.Should().Be(64);
    }

    [Fact]
    public async Task Adapter_and_base_requests_share_a_batch_and_match_generate()
    {
        using var runtime = TinyRuntime(6);
        string dir = Path.Combine(Path.GetTempPath(), "purellama-serve-lora-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var adapter = LoraAdapter.Attach(runtime.Model, new LoraConfig { R = 4, Alpha = 8, TargetModules = LoraConfig.AllLinear }, seed: 3))
            {
                var rng = new Rng(8);
                foreach (var (_, layer) in adapter.Layers)
                {
                    using var b = Tensor.RandU(layer.B.Shape, rng, -0.4f, 0.4f);
                    layer.B.Backend.Copy(b, layer.B);
                }
                adapter.Save(dir);
                adapter.Detach();
            }
            var prng = new Rng(4);
            var prompts = Enumerable.Range(0, 4).Select(i => RandomPrompt(prng, 5 + 7 * i)).ToArray();
            var baseTokens = prompts.Select(p => runtime.Generate(p, Greedy(12)).Select(t => t.Id).ToArray()).ToArray();
            int[][] loraTokens;
            using (var attached = LoraAdapter.Load(runtime.Model, dir))
            {
                loraTokens = prompts.Select(p => runtime.Generate(p, Greedy(12)).Select(t => t.Id).ToArray()).ToArray();
                attached.Detach();
            }
            loraTokens.Should().NotBeEquivalentTo(baseTokens, "the adapter must change something for the test to mean anything");

            using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20, Adapters = new Dictionary<string, string> { ["tuned"] = dir } });
            engine.AdapterNames.Should().Equal("tuned");
            var runs = prompts.SelectMany((p, i) => new[]
            {
                Collect(engine.Generate(new EngineRequest(p, Greedy(12)))),
                Collect(engine.Generate(new EngineRequest(p, Greedy(12), Adapter: "tuned"))),
            }).ToArray();
            var results = await Task.WhenAll(runs);
            for (int i = 0; i < prompts.Length; i++)
            {
                results[2 * i].Select(t => t.Id).Should().Equal(baseTokens[i], $"base prompt {i}");
                results[2 * i + 1].Select(t => t.Id).Should().Equal(loraTokens[i], $"adapter prompt {i}");
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Bad_requests_name_the_field_and_a_full_queue_is_overload()
    {
        using var runtime = TinyRuntime();
        using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20 });
        engine.MaxContextTokens.Should().Be(96);
        Action empty = () => engine.Generate(new EngineRequest([], Greedy(4)));
        empty.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("PromptIds");
        Action tooLong = () => engine.Generate(new EngineRequest(new int[96], Greedy(4)));
        tooLong.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("PromptIds");
        Action badId = () => engine.Generate(new EngineRequest([1, 64], Greedy(4)));
        badId.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("PromptIds");
        Action adapter = () => engine.Generate(new EngineRequest([1, 5], Greedy(4), Adapter: "nope"));
        adapter.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Adapter");
        Action topP = () => engine.Generate(new EngineRequest([1, 5], Greedy(4) with { TopP = 0 }));
        topP.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("Sampling");
        Action top = () => engine.Generate(new EngineRequest([1, 5], Greedy(4), TopLogprobs: 21));
        top.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("TopLogprobs");
        Action missing = () => ServingEngine.Start(runtime, new ServingOptions { Adapters = new Dictionary<string, string> { ["x"] = "/no/such/adapter" } });
        missing.Should().Throw<ArgumentException>().WithMessage("*'x'*");
        Action tiny = () => ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 100 });
        tiny.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("KvMemoryBytes");

        using var closed = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20, MaxWaitingRequests = 0 });
        Action overload = () => closed.Generate(new EngineRequest([1, 5], Greedy(4)));
        overload.Should().Throw<ServingOverloadedException>();
    }

    [Fact]
    public async Task Logprobs_are_the_models_and_the_greedy_token_is_the_top_one()
    {
        using var runtime = TinyRuntime(7);
        using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20 });
        int[] prompt = [1, 7, 9, 11];
        var tokens = await Collect(engine.Generate(new EngineRequest(prompt, Greedy(5), TopLogprobs: 3, Logprobs: true)));
        var logits = runtime.Logits(prompt);
        var last = logits.AsSpan(3 * 64, 64).ToArray();
        double lse = Math.Log(last.Sum(x => Math.Exp(x - last.Max()))) + last.Max();
        tokens[0].Logprob.Should().BeApproximately((float)(last[tokens[0].Id] - lse), 1e-4f);
        foreach (var t in tokens)
        {
            t.TopLogprobs.Should().HaveCount(3);
            t.TopLogprobs![0].Id.Should().Be(t.Id);
            t.TopLogprobs[0].Logprob.Should().Be(t.Logprob);
            t.TopLogprobs.Select(x => x.Logprob).Should().BeInDescendingOrder();
        }
        tokens[^1].Finish.Should().Be(StopReason.MaxNewTokens);
    }
}
