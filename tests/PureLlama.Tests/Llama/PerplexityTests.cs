using PureLlama.Autograd;
using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Tests.Llama;

/// <summary>
/// <see cref="Perplexity"/> on the tiny fixture model against a direct computation written the way
/// Hugging Face's strided-perplexity recipe is: per window a full forward (no cache), labels masked
/// to −100 except the last end − previousEnd, the causal-LM shift, float64 log-softmax.
/// </summary>
public sealed class PerplexityTests
{
    private static int[] Tokens(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(256)).ToArray();
    }

    private static (double Nll, long Count) Direct(LlamaModel model, int[] ids, int context, int stride)
    {
        double sum = 0;
        long count = 0;
        int prevEnd = 0;
        using var noGrad = GradMode.NoGrad();
        for (int begin = 0; begin < ids.Length; begin += stride)
        {
            int end = Math.Min(begin + context, ids.Length), trg = end - prevEnd;
            var window = ids[begin..end];
            var labels = (int[])window.Clone();
            for (int i = 0; i < window.Length - trg; i++) labels[i] = -100;
            using var t = Tensor.FromArray(window, new Shape(window.Length));
            using var logits = model.Forward(t); // [len, vocab]
            var host = logits.ToFloatArray();
            int vocab = logits.Shape[1];
            for (int i = 0; i + 1 < window.Length; i++)
            {
                int label = labels[i + 1];
                if (label == -100) continue;
                double max = double.NegativeInfinity, z = 0;
                for (int v = 0; v < vocab; v++) max = Math.Max(max, host[i * vocab + v]);
                for (int v = 0; v < vocab; v++) z += Math.Exp(host[i * vocab + v] - max);
                sum += max + Math.Log(z) - host[i * vocab + label];
                count++;
            }
            prevEnd = end;
            if (end == ids.Length) break;
        }
        return (sum / count, count);
    }

    [Theory]
    [InlineData(45, 16, 6)]   // overlapping windows, last one short
    [InlineData(45, 16, 16)]  // disjoint windows (the first token of each later window is not scored, as HF)
    [InlineData(40, 64, 64)]  // one window: every token but the first
    [InlineData(300, 280, 100)] // windows longer than one prefill chunk
    public void Sliding_window_matches_direct_computation(int length, int context, int stride)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        var ids = Tokens(length, length + context + stride);
        var result = Perplexity.Evaluate(model, ids, context, stride);
        var (nll, count) = Direct(model, ids, context, stride);
        result.TokensScored.Should().Be(count);
        result.MeanNll.Should().BeApproximately(nll, 1e-5 * Math.Abs(nll));
        result.Perplexity.Should().BeApproximately(Math.Exp(nll), 1e-4 * Math.Exp(nll));
        if (stride < context) count.Should().Be(length - 1);
    }

    [Fact]
    public void Bad_arguments_are_named()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        var ids = Tokens(20, 1);
        FluentActions.Invoking(() => Perplexity.Evaluate(model, ids, 8, 9)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*stride*");
        FluentActions.Invoking(() => Perplexity.Evaluate(model, [5], 8)).Should().Throw<ArgumentException>().WithMessage("*two tokens*");
        FluentActions.Invoking(() => Perplexity.Evaluate(model, [5, 999], 8)).Should().Throw<ArgumentException>().WithMessage("*999*");
    }
}
