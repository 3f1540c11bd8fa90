using PureLlama.Autograd;
using PureLlama.Kernels.Unary;
using PureLlama.Nn;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using Xunit.Abstractions;

namespace PureLlama.Tests.Autograd;

/// <summary>Gradient checkpointing gives the same gradients as the plain graph, with fewer live tensors.</summary>
// Runs alone (with the other readers of the process-wide live native byte count): the checkpointing test compares peaks
// of that count, which tests running in parallel would raise.
[Collection(nameof(PureLlama.Tests.Tensors.NativeMemoryLeakTests))]
public class CheckpointTests(ITestOutputHelper output)
{
    // A multi-op block: x → rms(x)·w1ᵀ → silu → ·w2ᵀ → + x.   x: [T, C], w1: [H, C], w2: [C, H]
    // (intermediates stay alive for the graph: disposing one under grad mode would cut it)
    private static Tensor Block(Tensor x, Tensor norm, Tensor w1, Tensor w2) =>
        Ops.Add(x, Ops.Linear(Ops.Unary(UnaryOp.Silu, Ops.Linear(Ops.RmsNorm(x, norm, 1e-5f), w1)), w2));

    [Theory, MemberData(nameof(GradCheckTests.Devices), MemberType = typeof(GradCheckTests))]
    public void Checkpointed_block_gives_identical_gradients(string device)
    {
        var d = Device.Parse(device);
        float[][] Run(bool checkpoint)
        {
            using var x0 = GradCheckTests.Leaf(d, 1, 5, 12);
            using var norm = GradCheckTests.Leaf(d, 2, 12);
            using var w1 = GradCheckTests.Leaf(d, 3, 20, 12);
            using var w2 = GradCheckTests.Leaf(d, 4, 12, 20);
            var x = Ops.Scale(x0, 2f);                                // a non-leaf input
            var y1 = checkpoint ? Checkpoint.Run(t => Block(t, norm, w1, w2), x) : Block(x, norm, w1, w2);
            var y2 = checkpoint ? Checkpoint.Run(t => Block(t, norm, w1, w2), y1) : Block(y1, norm, w1, w2); // the weights used twice
            var loss = Ops.Mean(Ops.Mul(y2, y2));
            loss.Backward();
            return [x0.Grad!.ToFloatArray(), norm.Grad!.ToFloatArray(), w1.Grad!.ToFloatArray(), w2.Grad!.ToFloatArray()];
        }
        var plain = Run(false);
        var ckpt = Run(true);
        for (int i = 0; i < plain.Length; i++) ckpt[i].Should().Equal(plain[i], $"gradient {i}");
    }

    [Theory, MemberData(nameof(GradCheckTests.Devices), MemberType = typeof(GradCheckTests))]
    public void Checkpointed_block_passes_the_finite_difference_check(string device)
    {
        var d = Device.Parse(device);
        Tensor[] inputs = [GradCheckTests.Leaf(d, 1, 3, 8), GradCheckTests.Leaf(d, 2, 8), GradCheckTests.Leaf(d, 3, 10, 8), GradCheckTests.Leaf(d, 4, 8, 10)];
        var worst = GradCheck.Run(x => Checkpoint.Run(t => Block(t, x[1], x[2], x[3]), x[0]), inputs, maxElementsPerInput: GradCheckTests.ElementsToCheck(d));
        worst.RelativeError.Should().BeLessThan(2e-3, worst.ToString());
        foreach (var t in inputs) t.Dispose();
    }

    [Fact]
    public void Parameters_get_gradients_when_the_block_input_needs_none()
    {
        using var x = Tensor.RandN(new Shape(3, 12), new Rng(5));             // frozen input (e.g. embeddings)
        using var norm = GradCheckTests.Leaf(Device.Cpu, 2, 12);
        using var w1 = GradCheckTests.Leaf(Device.Cpu, 3, 20, 12);
        using var w2 = GradCheckTests.Leaf(Device.Cpu, 4, 12, 20);
        Ops.Sum(Checkpoint.Run(t => Block(t, norm, w1, w2), x)).Backward();
        var ckpt = w1.Grad!.ToFloatArray();
        w1.Grad = null;
        Ops.Sum(Block(x, norm, w1, w2)).Backward();
        ckpt.Should().Equal(w1.Grad!.ToFloatArray());
        x.Grad.Should().BeNull();
    }

    [Fact]
    public void Without_grad_mode_it_is_the_plain_block()
    {
        using var x = Tensor.RandN(new Shape(3, 12), new Rng(5));
        using var norm = GradCheckTests.Leaf(Device.Cpu, 2, 12);
        using var w1 = GradCheckTests.Leaf(Device.Cpu, 3, 20, 12);
        using var w2 = GradCheckTests.Leaf(Device.Cpu, 4, 12, 20);
        using var _ = GradMode.NoGrad();
        using var y = Checkpoint.Run(t => Block(t, norm, w1, w2), x);
        y.RequiresGrad.Should().BeFalse();
    }

    [Fact]
    public void Tiny_llama_gradients_are_identical_with_checkpointed_layers_and_peak_memory_drops()
    {
        var tiny = LlamaFixtures.FindTiny();
        if (tiny is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        var weights = new List<Tensor> { model.Norm.Weight, model.LmHead.DenseWeight() };
        foreach (var l in model.Layers)
            weights.AddRange([l.InputNorm.Weight, l.PostAttentionNorm.Weight, l.Attention.QProj.DenseWeight(), l.Attention.KProj.DenseWeight(),
                l.Attention.VProj.DenseWeight(), l.Attention.OProj.DenseWeight(), l.Mlp.GateProj.DenseWeight(), l.Mlp.UpProj.DenseWeight(), l.Mlp.DownProj.DenseWeight()]);
        foreach (var w in weights) w.RequiresGrad = true;                   // embeddings frozen: layer 0's input needs no gradient

        (float[][] Grads, long Peak) Run(bool checkpoint, int tokens)
        {
            model.GradientCheckpointing = checkpoint;
            var rng = new Rng(11);
            var seq = Enumerable.Range(0, tokens + 1).Select(_ => rng.NextInt(256)).ToArray();
            using var ids = Tensor.FromArray(seq[..^1], new Shape(tokens));
            using var targets = Tensor.FromArray(seq[1..], new Shape(tokens));
            GC.Collect();
            GC.WaitForPendingFinalizers();
            PureLlama.Tensors.NativeStorage.ResetPeak();
            long baseline = PureLlama.Tensors.NativeStorage.LiveBytes;
            Ops.CrossEntropy(model.Forward(ids), targets).Backward();
            long peak = PureLlama.Tensors.NativeStorage.PeakLiveBytes - baseline;
            var grads = weights.Select(w => w.Grad!.ToFloatArray()).ToArray();
            foreach (var w in weights) { w.Grad!.Dispose(); w.Grad = null; }
            model.GradientCheckpointing = false;
            return (grads, peak);
        }

        var (plain, _) = Run(false, 15);
        var (ckpt, _) = Run(true, 15);
        for (int i = 0; i < plain.Length; i++) ckpt[i].Should().Equal(plain[i], weights[i].Name ?? $"weight {i}");

        const int longTokens = 1024;
        var (_, peakPlain) = Run(false, longTokens);
        var (_, peakCkpt) = Run(true, longTokens);
        output.WriteLine($"tiny Llama (2 layers, C=64, vocab 256), T={longTokens}: peak live tensor bytes during forward+backward " +
                         $"{peakPlain / 1048576.0:F2} MiB plain, {peakCkpt / 1048576.0:F2} MiB checkpointed ({(double)peakCkpt / peakPlain:P0})");
        peakCkpt.Should().BeLessThan(peakPlain);
    }
}
