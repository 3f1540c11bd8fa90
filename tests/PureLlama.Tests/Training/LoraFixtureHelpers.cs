using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using PureLlama.Training;

namespace PureLlama.Tests.Training;

/// <summary>Shared steps of the LoRA fixture tests.</summary>
internal static class LoraFixtureHelpers
{
    /// <summary>Logits [tokens, vocab] of the fixture prompt, without a graph.</summary>
    public static float[] Logits(LlamaModel model)
    {
        using var _ = GradMode.NoGrad();
        using var ids = Tensor.FromArray(LlamaFixtures.Prompt, new Shape(LlamaFixtures.Prompt.Length));
        using var logits = model.Forward(ids);
        return logits.ToArray<float>();
    }

    /// <summary>B = 0 after attach leaves the model unchanged; gives every B values in U(−0.3, 0.3) so the adapter matters.</summary>
    public static void Randomize(LoraAdapter adapter, ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var (_, layer) in adapter.Layers)
        {
            var values = new float[layer.B.Numel];
            rng.FillUniform(values, -0.3, 0.3);
            layer.B.Backend.CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()), layer.B);
        }
    }

    /// <summary>‖got − expected‖ / ‖expected‖.</summary>
    public static double RelativeError(float[] got, float[] expected)
    {
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++) { double e = (double)got[i] - expected[i]; num += e * e; den += (double)expected[i] * expected[i]; }
        return Math.Sqrt(num / den);
    }

    /// <summary>
    /// The cross-entropy loss of the fixture's next-token task differentiated along its own LoRA gradient
    /// (unit direction over all adapter tensors): (autograd = ‖∇‖, central difference with step h).
    /// </summary>
    public static (double Autograd, double Numeric) DirectionalDerivative(LlamaModel model, LoraAdapter adapter, float h = 1e-2f)
    {
        var prompt = LlamaFixtures.Prompt;
        using var ids = Tensor.FromArray(prompt[..^1], new Shape(prompt.Length - 1));
        using var targets = Tensor.FromArray(prompt[1..], new Shape(prompt.Length - 1));
        foreach (var p in adapter.Parameters) { p.Value.Grad?.Dispose(); p.Value.Grad = null; }
        var loss = Ops.CrossEntropy(model.Forward(ids), targets);
        loss.Backward();
        var grads = adapter.Parameters.Select(p => p.Value.Grad?.ToArray<float>() ?? throw new InvalidOperationException($"{p.Name} got no gradient")).ToList();
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
        float plus = Loss(h), minus = Loss(-2 * h);
        Loss(h);
        return (norm, (plus - minus) / (2.0 * h));
    }
}
