using PureLlama.Compute;
using PureLlama.Llama;
using PureLlama.Serving;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using Xunit.Abstractions;

namespace PureLlama.Tests.Serving;

/// <summary>Logits of the tiny fixture through the paged KV cache, per cache type, against the full F32 forward.</summary>
public class KvCacheTypeFixtureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(KvCacheType.F32, 1e-5)]
    [InlineData(KvCacheType.BF16, 1e-2)]
    [InlineData(KvCacheType.Int8, 2e-2)]
    public void Fixture_logits_through_the_paged_cache_stay_within_the_cache_types_error(KvCacheType type, double bound)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        var prompt = LlamaFixtures.Prompt;
        int vocab = model.VocabSize, t = prompt.Length;
        float[] reference;
        using (var ids = Tensor.FromArray(prompt, new Shape(t)))
        using (var logits = model.Forward(ids)) reference = logits.ToFloatArray();    // [T, vocab]

        var options = new ServingOptions { KvMemoryBytes = 1 << 20, KvCacheType = type, BlockSize = 4 };
        using var cache = new PagedKvCache(model, options);
        var table = Enumerable.Range(0, (t + 3) / 4).Select(b => cache.Blocks - 1 - 2 * b).ToArray();   // scattered blocks
        var got = new float[t * vocab];
        for (int pos = 0; pos < t; pos++)   // one decode step per position: each returns that position's logits
        {
            using var layout = new PagedLayout([1], [pos + 1], [table], 4, cache.Blocks, Device.Cpu);
            using var step = model.ForwardPaged([prompt[pos]], [pos], [1], cache.Step(layout), null);
            step.ToFloatArray().CopyTo(got, pos * vocab);
        }
        double num = 0, den = 0, maxAbs = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double d = got[i] - reference[i];
            num += d * d; den += (double)reference[i] * reference[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }
        double rel = Math.Sqrt(num / den);
        output.WriteLine($"{type} KV: logits relative L2 error {rel:E2}, max abs error {maxAbs:E2} over {t} positions × {vocab}");
        rel.Should().BeLessThan(bound);
    }
}
