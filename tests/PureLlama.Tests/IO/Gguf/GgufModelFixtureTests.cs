using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>Models loaded from llama.cpp's GGUF files against llama.cpp's own outputs (expected.json, logits.safetensors).</summary>
public sealed class GgufModelFixtureTests(ITestOutputHelper output)
{
    // llama.cpp's float32 run is within 1.4e-6 of float64 on these files; ours sums in another order.
    private const double LogitTolerance = 2e-5;
    private const int Steps = 32;

    [Theory, MemberData(nameof(GgufFixtures.StoredFiles), MemberType = typeof(GgufFixtures))]
    public void Fixture_prompt_ids_logits_and_greedy_tokens_match_llama_cpp(string file)
    {
        string dir = GgufFixtures.Dir(output);
        var expected = GgufFixtures.Expected(dir).GetProperty("files").GetProperty(file);
        using var llama = LlamaRuntime.Load(Path.Combine(dir, file), Device.Cpu, WeightLoading.Mapped, contextLength: 512);
        for (int p = 0; p < 2; p++)
        {
            var reference = expected.GetProperty("f32_reference")[p];
            var ids = GgufFixtures.Ints(reference.GetProperty("prompt_ids"));
            llama.Encode(reference.GetProperty("prompt").GetString()!).Should().Equal(ids, "the GGUF tokenizer encodes as llama.cpp does");

            var logits = llama.Logits(ids);
            int vocab = llama.Config.VocabSize;
            var last = logits.AsSpan((ids.Length - 1) * vocab, vocab).ToArray();
            double err = LlamaFixtures.MaxAbsDiff(last, GgufFixtures.Logits(dir, file, p, "f32_reference"));
            double errCpp = LlamaFixtures.MaxAbsDiff(last, GgufFixtures.Logits(dir, file, p, "llama_cpp"));
            output.WriteLine($"{file} prompt {p}: max |Δlogit| vs llama.cpp f32 run {err:E2}, vs its default run {errCpp:E2}");
            err.Should().BeLessThan(LogitTolerance);

            var ours = llama.Generate(ids, SamplingOptions.Greedy with { MaxNewTokens = Steps }).Select(t => t.Id).ToArray();
            var theirs = GgufFixtures.Ints(reference.GetProperty("generated_ids"));
            var margins = reference.GetProperty("greedy_margins").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            int agree = 0;
            while (agree < Math.Min(ours.Length, theirs.Length) && ours[agree] == theirs[agree]) agree++;
            output.WriteLine($"  greedy: {agree} of {theirs.Length} tokens agree");
            if (agree < theirs.Length)
                margins[agree].Should().BeLessThan(1e-3, $"tokens part at step {agree} although llama.cpp's margin there is {margins[agree]:E2}");
        }
    }
}
