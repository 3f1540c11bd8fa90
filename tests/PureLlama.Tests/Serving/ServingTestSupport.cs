using PureLlama.Llama;
using PureLlama.Serving;
using PureLlama.Tensors;

namespace PureLlama.Tests.Serving;

/// <summary>A tiny random Llama runtime (vocab 64, 2 layers, GQA 4/2, context 96) and helpers to drain engine streams.</summary>
internal static class ServingTestSupport
{
    public static LlamaConfig Config => new()
    {
        VocabSize = 64, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, RmsNormEps = 1e-5, RopeTheta = 10000, MaxPositionEmbeddings = 96, TieWordEmbeddings = false,
        BosTokenId = 1, EosTokenIds = [2], TorchDtype = "float32",
    };

    /// <summary>A runtime whose only stop token is id 2 (rarely sampled by the random weights, so lengths vary little).</summary>
    public static LlamaRuntime TinyRuntime(ulong seed = 11) => LlamaRuntime.FromModel(LlamaModel.CreateRandom(Config, Device.Cpu, seed, 0.3f));

    public static int[] RandomPrompt(Rng rng, int length)
    {
        var p = new int[length];
        p[0] = 1;
        for (int i = 1; i < length; i++) p[i] = 3 + rng.NextInt(60);
        return p;
    }

    public static SamplingOptions Greedy(int maxNew) => new() { MaxNewTokens = maxNew };

    public static async Task<List<EngineToken>> Collect(IAsyncEnumerable<EngineToken> stream, CancellationToken ct = default)
    {
        var list = new List<EngineToken>();
        await foreach (var t in stream.WithCancellation(ct)) list.Add(t);
        return list;
    }

    /// <summary>Waits until the scheduler has released every sequence (metrics are published after each step).</summary>
    public static async Task<EngineMetrics> Idle(ServingEngine engine)
    {
        for (int i = 0; i < 500; i++)
        {
            var m = engine.Metrics;
            if (m.Running == 0 && m.Waiting == 0) return m;
            await Task.Delay(10);
        }
        return engine.Metrics;
    }
}
