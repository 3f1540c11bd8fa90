using PureLlama.Kernels.Reference;
using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Tests.Training;

/// <summary>AdamW over named parameters: the float64 reference per parameter, decay groups, skipping, state resume.</summary>
public class AdamWOptimizerTests
{
    [Theory, MemberData(nameof(OptimizerTestData.Devices), MemberType = typeof(OptimizerTestData))]
    public void Steps_match_the_float64_reference_with_decay_only_where_the_predicate_says(string device)
    {
        var d = Device.Parse(device);
        var ps = OptimizerTestData.Parameters(d);
        var options = new AdamWOptions { WeightDecay = 0.1f };
        var refP = ps.Select(p => p.Value.ToFloatArray().Select(x => (double)x).ToArray()).ToArray();
        var refM = refP.Select(a => new double[a.Length]).ToArray();
        var refV = refP.Select(a => new double[a.Length]).ToArray();
        using var opt = new AdamWOptimizer(ps, options);
        opt.Decays("layers.0.input_layernorm.weight").Should().BeFalse();
        opt.Decays("layers.0.q_proj.weight").Should().BeTrue();
        opt.StateBytes.Should().Be(8L * (7 * 37 + 37 + 300));
        for (int step = 1; step <= 4; step++)
        {
            OptimizerTestData.SetGradients(ps, step);
            for (int i = 0; i < ps.Length; i++)
            {
                float wd = AdamWOptions.DefaultDecays(ps[i].Name) ? 0.1f : 0f;
                ReferenceAdamW.Step(refP[i], ps[i].Value.Grad!.ToFloatArray(), refM[i], refV[i], 3e-2f, 0.9f, 0.999f, 1e-8f, wd, step);
            }
            opt.Step(3e-2f);
            opt.ZeroGrad();
            ps.Should().OnlyContain(p => p.Value.Grad == null);
        }
        opt.StepCount.Should().Be(4);
        for (int i = 0; i < ps.Length; i++)
        {
            var got = ps[i].Value.ToFloatArray();
            double err = 0, norm = 0;
            for (int j = 0; j < got.Length; j++) { err += Math.Pow(got[j] - refP[i][j], 2); norm += refP[i][j] * refP[i][j]; }
            Math.Sqrt(err / norm).Should().BeLessThan(1e-6, ps[i].Name);
        }
        OptimizerTestData.Dispose(ps);
    }

    [Fact]
    public void Parameters_without_a_gradient_are_left_alone_and_keep_their_own_step_count()
    {
        var ps = OptimizerTestData.Parameters(Device.Cpu);
        var before = ps[1].Value.ToFloatArray();
        using var opt = new AdamWOptimizer(ps);
        OptimizerTestData.SetGradients(ps, 1);
        ps[1].Value.Grad!.Dispose();
        ps[1].Value.Grad = null;
        opt.Step(1e-2f);
        ps[1].Value.ToFloatArray().Should().Equal(before);

        // its first real update is bias-corrected as step 1, like torch's per-parameter state["step"]
        var lone = OptimizerTestData.Clone(ps);
        using var fresh = new AdamWOptimizer(lone);
        OptimizerTestData.SetGradients(ps, 2);
        OptimizerTestData.SetGradients(lone, 2);
        opt.Step(1e-2f);
        fresh.Step(1e-2f);
        ps[1].Value.ToFloatArray().Should().Equal(lone[1].Value.ToFloatArray());
        OptimizerTestData.Dispose(ps);
        OptimizerTestData.Dispose(lone);
    }

    [Theory, MemberData(nameof(OptimizerTestData.Devices), MemberType = typeof(OptimizerTestData))]
    public void Save_then_load_resumes_bit_for_bit(string device) =>
        OptimizerResume.CheckBitExact(ps => new AdamWOptimizer(ps, new AdamWOptions { WeightDecay = 0.05f }), Device.Parse(device));

    [Fact]
    public void Load_rejects_a_state_of_other_parameters_naming_them() =>
        OptimizerResume.CheckRejectsOtherParameters(ps => new AdamWOptimizer(ps), Device.Cpu);

    [Fact]
    public void Bad_parameters_are_rejected_by_name()
    {
        using var bf = Tensor.Zeros(new Shape(4), DType.BF16);
        var act = () => new AdamWOptimizer([new NamedParameter("x.weight", bf)]);
        act.Should().Throw<ArgumentException>().WithMessage("*x.weight*F32*");
        using var t = Tensor.Zeros(new Shape(4));
        var twice = () => new AdamWOptimizer([new NamedParameter("w", t), new NamedParameter("w", t)]);
        twice.Should().Throw<ArgumentException>().WithMessage("*'w' appears twice*");
    }
}
