using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using static PureLlama.Tests.Training.LoraFixtureHelpers;
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

    [Fact]
    public void Lora_over_nf4_backpropagates_and_matches_finite_differences()
    {
        using var model = LoadNf4();
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 8, Alpha = 16, TargetModules = ["all-linear"] }, seed: 31);
        adapter.Layers.Should().OnlyContain(l => l.Layer.Base is QuantLinear);
        Randomize(adapter, 32);
        var (norm, numeric) = LoraFixtureHelpers.DirectionalDerivative(model, adapter);
        adapter.Parameters.Should().OnlyContain(p => p.Value.Grad!.ToArray<float>().Any(v => v != 0f), "every lora_A and lora_B gets a gradient through the NF4 layers");
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
        double rel = RelativeError(merged, withAdapter);
        output.WriteLine($"NF4 base merged (dequantized + s·B·A) vs base+adapter logits: relative error {rel:E2}");
        rel.Should().BeLessThan(1e-5);
    }
}
