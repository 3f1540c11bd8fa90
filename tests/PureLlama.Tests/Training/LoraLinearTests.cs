using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Tensors;
using PureLlama.Tests.Autograd;

namespace PureLlama.Tests.Training;

/// <summary>LoraLinear and its fused function: finite differences, PEFT's init, dropout determinism.</summary>
public class LoraLinearTests
{
    private static Tensor Leaf(Device d, ulong seed, params int[] shape) => GradCheckTests.Leaf(d, seed, shape);

    [Theory, MemberData(nameof(GradCheckTests.Devices), MemberType = typeof(GradCheckTests))]
    public void Lora_function_matches_finite_differences(string device)
    {
        var d = Device.Parse(device);
        foreach (var (m, inF, outF, r) in new[] { (5, 7, 6, 1), (4, 9, 5, 3), (3, 6, 11, 8) })
        {
            Tensor[] inputs = [Leaf(d, 1, m, inF), Leaf(d, 2, r, inF), Leaf(d, 3, outF, r), Leaf(d, 4, m, outF)];
            var worst = GradCheck.Run(x => Ops.Lora(x[0], x[1], x[2], x[3], 0.7f), inputs, maxElementsPerInput: GradCheckTests.ElementsToCheck(d));
            worst.RelativeError.Should().BeLessThan(2e-3, $"m={m} in={inF} out={outF} r={r}: {worst}");
            foreach (var t in inputs) t.Dispose();
        }
        // batched input [2, 3, in] and the base path through a real frozen layer
        Tensor[] batched = [Leaf(d, 5, 2, 3, 7), Leaf(d, 6, 4, 7), Leaf(d, 7, 5, 4)];
        using var w = Tensor.RandU(new Shape(5, 7), new Rng(8), -1, 1, DType.F32, d);
        var worstB = GradCheck.Run(x => Ops.Lora(x[0], x[1], x[2], Ops.Linear(x[0], w), 2f), batched, maxElementsPerInput: GradCheckTests.ElementsToCheck(d));
        worstB.RelativeError.Should().BeLessThan(2e-3, worstB.ToString());
        foreach (var t in batched) t.Dispose();
    }

    [Fact]
    public void New_layer_starts_as_its_base_with_peft_init()
    {
        var d = Device.Cpu;
        using var w = Tensor.RandU(new Shape(6, 100), new Rng(1), -1, 1, DType.F32, d);
        var baseLayer = new Linear(w);
        using var lora = new LoraLinear(baseLayer, rank: 4, alpha: 16, useRsLora: false, new LoraDropout(0f, 1), seed: 3, d);
        lora.Scaling.Should().Be(4f);
        var a = lora.A.ToArray<float>();
        a.Should().OnlyContain(v => Math.Abs(v) <= 0.1f, "A ~ U(−1/√in, 1/√in) with in = 100");
        a.Max().Should().BeGreaterThan(0.08f); a.Min().Should().BeLessThan(-0.08f);
        lora.B.ToArray<float>().Should().OnlyContain(v => v == 0f);
        lora.A.RequiresGrad.Should().BeTrue(); lora.B.RequiresGrad.Should().BeTrue();
        w.RequiresGrad.Should().BeFalse();
        using var x = Tensor.RandU(new Shape(3, 100), new Rng(2), -1, 1, DType.F32, d);
        using var _ = GradMode.NoGrad();
        using var y = lora.Forward(x);
        using var y0 = baseLayer.Forward(x);
        y.ToArray<float>().Should().Equal(y0.ToArray<float>());
        new LoraLinear(baseLayer, 9, 6, useRsLora: true, new LoraDropout(0, 1), 1, d).Scaling.Should().BeApproximately(2f, 1e-6f);
    }

    [Fact]
    public void Dropout_is_seeded_resumable_and_off_in_eval()
    {
        var d = Device.Cpu;
        float[] Run(ulong counter, bool training)
        {
            using var w = Tensor.RandU(new Shape(5, 8), new Rng(1), -1, 1, DType.F32, d);
            var dropout = new LoraDropout(0.5f, 42) { Counter = counter, Training = training };
            using var lora = new LoraLinear(new Linear(w), 2, 4, false, dropout, 3, d);
            lora.B.Backend.Fill(lora.B, 0.5f);
            using var x = Tensor.RandU(new Shape(4, 8), new Rng(2), -1, 1, DType.F32, d);
            using var _ = GradMode.NoGrad();
            using var y = lora.Forward(x);
            dropout.Counter.Should().Be(training ? counter + 1 : counter);
            return y.ToArray<float>();
        }
        Run(0, true).Should().Equal(Run(0, true), "same seed and counter, same mask");
        Run(5, true).Should().Equal(Run(5, true), "restoring the counter resumes the stream");
        Run(0, true).Should().NotEqual(Run(1, true));
        Run(0, false).Should().Equal(Run(7, false), "eval mode ignores the stream");
        Run(0, true).Should().NotEqual(Run(0, false));
    }

    [Fact]
    public void Masks_keep_about_one_minus_p_scaled_by_its_inverse()
    {
        var dropout = new LoraDropout(0.25f, 9) { Training = true };
        using var mask = dropout.NextMask(new Shape(100, 100), Device.Cpu);
        var v = mask.ToArray<float>();
        v.Should().OnlyContain(x => x == 0f || Math.Abs(x - 4f / 3f) < 1e-6f);
        v.Count(x => x == 0f).Should().BeInRange(2300, 2700);
    }
}
