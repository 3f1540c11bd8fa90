using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Llama;

/// <summary>The forward against Hugging Face transformers' outputs for shared/fixtures/llama3-tiny, on every backend.</summary>
public class LlamaForwardFixtureTests(ITestOutputHelper output)
{
    private const double LogitTolerance = 1e-4;

    [Theory, MemberData(nameof(LlamaFixtures.Devices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_f32_logits_match_transformers(string device) =>
        LogitsMatch(device, "f32", "logits");

    // One forward of the fixture prompt on a device, compared with a transformers reference tensor.
    private void LogitsMatch(string device, string variant, string referenceName)
    {
        Shared.SimulatorChecks.RequireFor(device);
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var dev = Device.Parse(device);
        using var model = LlamaFixtures.LoadModel(tiny, variant, dev);
        if (variant == "bf16") model.Layers[0].Attention.QProj.DenseWeight().DType.Should().Be(DType.BF16, "BF16 weights are used as stored");
        using var _ = GradMode.NoGrad();
        using var ids = Tensor.FromArray(LlamaFixtures.Prompt, new Shape(16), dev);
        using var logits = model.Forward(ids);
        logits.Shape.Should().Be(new Shape(16, 256));
        var (expected, _) = LlamaFixtures.Reference(tiny, referenceName);
        double err = LlamaFixtures.MaxAbsDiff(logits.ToFloatArray(), expected);
        output.WriteLine($"{device}: {variant} weights, {referenceName} max-abs error {err:E3}");
        err.Should().BeLessThan(LogitTolerance);
    }

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_hidden_states_match_transformers(string device)
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var dev = Device.Parse(device);
        using var model = LlamaFixtures.LoadModel(tiny, "f32", dev);
        using var _ = GradMode.NoGrad();
        using var ids = Tensor.FromArray(LlamaFixtures.Prompt, new Shape(16), dev);
        var states = model.HiddenStates(ids);
        try
        {
            states.Should().HaveCount(3);
            var (expected, shape) = LlamaFixtures.Reference(tiny, "hidden_states");
            shape.Should().Equal(3, 16, 64);
            for (int i = 0; i < 3; i++)
            {
                double err = LlamaFixtures.MaxAbsDiff(states[i].ToFloatArray(), expected[(i * 16 * 64)..((i + 1) * 16 * 64)]);
                output.WriteLine($"{device}: hidden_states[{i}] max-abs error {err:E3}");
                err.Should().BeLessThan(LogitTolerance, $"hidden_states[{i}]");
            }
        }
        finally { foreach (var s in states) s.Dispose(); }
    }

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_bf16_weights_f32_compute_logits_match_transformers(string device) =>
        LogitsMatch(device, "bf16", "bf16_weights_logits_f32_compute");

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_logits_through_the_kv_cache_match_the_full_forward(string device)
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var dev = Device.Parse(device);
        using var model = LlamaFixtures.LoadModel(tiny, "f32", dev);
        using var cache = model.CreateCache(32);
        var prompt = LlamaFixtures.Prompt;
        // prefill 10 tokens (all rows), then the rest one at a time
        using var first = model.Forward([prompt[..10]], [cache], LogitRows.All);
        var rows = new List<float>(first.ToFloatArray());
        for (int i = 10; i < 16; i++)
        {
            using var step = model.Forward([[prompt[i]]], [cache]);
            rows.AddRange(step.ToFloatArray());
        }
        cache.Length.Should().Be(16);
        var (expected, _) = LlamaFixtures.Reference(tiny, "logits");
        double err = LlamaFixtures.MaxAbsDiff([.. rows], expected);
        output.WriteLine($"{device}: cached logits max-abs error {err:E3}");
        err.Should().BeLessThan(LogitTolerance);
    }

    [Theory, MemberData(nameof(LlamaFixtures.GenerationDevices), MemberType = typeof(LlamaFixtures))]
    public void Fixture_bf16_kv_cache_stays_close_to_the_f32_logits(string device)
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var dev = Device.Parse(device);
        using var model = LlamaFixtures.LoadModel(tiny, "f32", dev);
        using var cache = model.CreateCache(32, DType.BF16);
        cache.ByteLength.Should().Be(2L * 2 * 32 * 2 * 16 * 2);
        var prompt = LlamaFixtures.Prompt;
        using var first = model.Forward([prompt[..8]], [cache], LogitRows.All);
        var rows = new List<float>(first.ToFloatArray());
        for (int i = 8; i < 16; i++)
        {
            using var step = model.Forward([[prompt[i]]], [cache]);
            rows.AddRange(step.ToFloatArray());
        }
        var (expected, _) = LlamaFixtures.Reference(tiny, "logits");
        double err = LlamaFixtures.MaxAbsDiff([.. rows], expected);
        output.WriteLine($"{device}: BF16 KV cache logits max-abs error {err:E3} (|logits| ≤ 17)");
        err.Should().BeLessThan(0.05);
    }
}
