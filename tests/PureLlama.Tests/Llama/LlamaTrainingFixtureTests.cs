using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Llama;

/// <summary>The same forward under autograd: gradients reach every weight and agree with finite differences.</summary>
public class LlamaTrainingFixtureTests(ITestOutputHelper output)
{
    [Fact]
    public void Fixture_training_forward_backpropagates_to_every_weight()
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        var weights = new List<Tensor> { model.EmbedTokens.Table, model.Norm.Weight, model.LmHead.DenseWeight() };
        foreach (var l in model.Layers)
            weights.AddRange([l.InputNorm.Weight, l.PostAttentionNorm.Weight, l.Attention.QProj.DenseWeight(), l.Attention.KProj.DenseWeight(),
                l.Attention.VProj.DenseWeight(), l.Attention.OProj.DenseWeight(), l.Mlp.GateProj.DenseWeight(), l.Mlp.UpProj.DenseWeight(), l.Mlp.DownProj.DenseWeight()]);
        foreach (var w in weights) w.RequiresGrad = true;

        var prompt = LlamaFixtures.Prompt;
        using var ids = Tensor.FromArray(prompt[..^1], new Shape(15));
        using var targets = Tensor.FromArray(prompt[1..], new Shape(15));
        float Loss()
        {
            using var _ = GradMode.NoGrad();
            using var logits = model.Forward(ids);
            using var loss = Ops.CrossEntropy(logits, targets);
            return loss.Item();
        }

        var logitsG = model.Forward(ids);
        var lossG = Ops.CrossEntropy(logitsG, targets);
        lossG.Backward();
        foreach (var w in weights)
        {
            w.Grad.Should().NotBeNull($"{w.Name} gets a gradient");
            w.Grad!.ToFloatArray().Should().Contain(g => g != 0f, $"{w.Name}'s gradient is not all zero");
        }

        // directional derivative along the gradient of one q_proj weight, by central differences
        var q = model.Layers[1].Attention.QProj.DenseWeight();
        var grad = q.Grad!.ToFloatArray();
        double norm = Math.Sqrt(grad.Sum(g => (double)g * g));
        var dir = grad.Select(g => (float)(g / norm)).ToArray();
        using var step = Tensor.FromArray(dir, q.Shape);
        const float h = 1e-2f;
        using (GradMode.NoGrad()) q.Backend.Axpy(h, step, q);
        float plus = Loss();
        using (GradMode.NoGrad()) q.Backend.Axpy(-2 * h, step, q);
        float minus = Loss();
        using (GradMode.NoGrad()) q.Backend.Axpy(h, step, q);
        double numeric = (plus - minus) / (2.0 * h);
        output.WriteLine($"loss {lossG.Item():F5}; directional derivative: autograd {norm:E4}, finite differences {numeric:E4}");
        numeric.Should().BeApproximately(norm, 0.02 * norm + 1e-4);
    }
}
