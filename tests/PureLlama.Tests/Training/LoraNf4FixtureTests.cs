using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using PureLlama.Training;
using Xunit.Abstractions;

namespace PureLlama.Tests.Training;

/// <summary>QLoRA on the tiny Llama fixture: LoRA over NF4 projections (gradients, merge into dequantized weights).</summary>
public class LoraNf4FixtureTests(ITestOutputHelper output)
{
    // Every projection (not lm_head) replaced by its NF4 (double-quantized) QuantLinear.
    private static LlamaModel? LoadNf4()
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) return null;
        var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        foreach (var (name, linear) in model.NamedLinears().Where(n => n.Name != "lm_head").ToList())
        {
            var q = new QuantLinear(Nf4Quantizer.Quantize(linear.DenseWeight()));
            model.ReplaceLinear(name, q).Dispose();
        }
        return model;
    }

    private static float[] Logits(LlamaModel model)
    {
        using var _ = GradMode.NoGrad();
        using var ids = Tensor.FromArray(LlamaFixtures.Prompt, new Shape(LlamaFixtures.Prompt.Length));
        using var logits = model.Forward(ids);
        return logits.ToArray<float>();
    }

    private static void Randomize(LoraAdapter adapter, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var (_, layer) in adapter.Layers)
        {
            var values = new float[layer.B.Numel];
            rng.FillUniform(values, -0.3, 0.3);
            layer.B.Backend.CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()), layer.B);
        }
    }

    [Fact]
    public void Lora_over_nf4_backpropagates_and_matches_finite_differences()
    {
        using var model = LoadNf4();
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 8, Alpha = 16, TargetModules = ["all-linear"] }, seed: 31);
        adapter.Layers.Should().OnlyContain(l => l.Layer.Base is QuantLinear);
        Randomize(adapter, 32);
        var prompt = LlamaFixtures.Prompt;
        using var ids = Tensor.FromArray(prompt[..^1], new Shape(15));
        using var targets = Tensor.FromArray(prompt[1..], new Shape(15));
        var loss = Ops.CrossEntropy(model.Forward(ids), targets);
        loss.Backward();
        var grads = adapter.Parameters.Select(p => p.Value.Grad!.ToArray<float>()).ToList();
        grads.Should().OnlyContain(g => g.Any(v => v != 0f), "every lora_A and lora_B gets a gradient through the NF4 layers");
        double norm = Math.Sqrt(grads.Sum(g => g.Sum(x => (double)x * x)));
        float Loss(float step)
        {
            using var _ = GradMode.NoGrad();
            for (int i = 0; i < grads.Count; i++)
            {
                using var dir = Tensor.FromArray(grads[i].Select(x => (float)(x / norm)).ToArray(), adapter.Parameters[i].Value.Shape);
                dir.Backend.Axpy(step, dir, adapter.Parameters[i].Value);
            }
            using var logits = model.Forward(ids);
            using var l = Ops.CrossEntropy(logits, targets);
            return l.Item();
        }
        const float h = 1e-2f;
        float plus = Loss(h), minus = Loss(-2 * h);
        Loss(h);
        double numeric = (plus - minus) / (2.0 * h);
        output.WriteLine($"NF4 base, directional derivative along the LoRA gradient: autograd {norm:E5}, finite differences {numeric:E5}");
        numeric.Should().BeApproximately(norm, 5e-3 * norm);
    }

    [Fact]
    public void Merge_over_nf4_uses_the_dequantized_weights()
    {
        using var model = LoadNf4();
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 16, Alpha = 32, TargetModules = ["all-linear"] }, seed: 41);
        Randomize(adapter, 42);
        var withAdapter = Logits(model);
        adapter.Merge();
        model.NamedLinears().Should().OnlyContain(l => l.Linear is Linear, "merged layers are dense F32 (re-quantizing is the caller's choice)");
        var merged = Logits(model);
        double num = 0, den = 0;
        for (int i = 0; i < merged.Length; i++) { double e = (double)merged[i] - withAdapter[i]; num += e * e; den += (double)withAdapter[i] * withAdapter[i]; }
        double rel = Math.Sqrt(num / den);
        output.WriteLine($"NF4 base merged (dequantized + s·B·A) vs base+adapter logits: relative error {rel:E2}");
        rel.Should().BeLessThan(1e-5);
    }
}
