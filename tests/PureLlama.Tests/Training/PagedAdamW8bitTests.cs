using PureLlama.Compute;
using PureLlama.Tensors;
using PureLlama.Training;
using Xunit.Abstractions;

namespace PureLlama.Tests.Training;

/// <summary>8-bit AdamW: close to F32 AdamW on a quadratic, paging exact, state sizes, resume.</summary>
public class PagedAdamW8bitTests(ITestOutputHelper output)
{
    [Fact]
    public void Trajectory_on_a_quadratic_stays_close_to_f32_adamw()
    {
        // f(x) = ½ Σ a_i (x_i − c_i)²,  ∇f = a∘(x − c); a ∈ [0.1, 10], n = 3000 (ragged last block)
        const int n = 3000, steps = 300;
        var rng = new Rng(42);
        var a = Enumerable.Range(0, n).Select(_ => (float)rng.NextUniform(0.1, 10)).ToArray();
        var c = Enumerable.Range(0, n).Select(_ => (float)rng.NextNormal()).ToArray();
        var x0 = Enumerable.Range(0, n).Select(_ => (float)rng.NextNormal()).ToArray();
        NamedParameter Param(string name) { var t = Tensor.FromArray((float[])x0.Clone(), new Shape(n)); t.RequiresGrad = true; return new(name, t); }
        var p32 = Param("w.weight"); var p8 = Param("w.weight");
        var options = new AdamWOptions { WeightDecay = 0.01f };
        using var f32 = new AdamWOptimizer([p32], options);
        using var q8 = new PagedAdamW8bit([p8], options);
        double Loss(float[] x) => 0.5 * Enumerable.Range(0, n).Sum(i => a[i] * Math.Pow(x[i] - c[i], 2));
        void Grad(NamedParameter p)
        {
            var x = p.Value.ToFloatArray();
            p.Value.Grad = Tensor.FromArray(Enumerable.Range(0, n).Select(i => a[i] * (x[i] - c[i])).ToArray(), new Shape(n));
        }
        double dist0 = Math.Sqrt(Enumerable.Range(0, n).Sum(i => Math.Pow(x0[i] - c[i], 2)));
        double worst = 0;
        var schedule = LearningRateSchedule.Cosine(5e-2f, 10, steps);
        for (int s = 0; s < steps; s++)
        {
            Grad(p32); Grad(p8);
            f32.Step(schedule.RateAt(s)); q8.Step(schedule.RateAt(s));
            f32.ZeroGrad(); q8.ZeroGrad();
            var x32 = p32.Value.ToFloatArray(); var x8 = p8.Value.ToFloatArray();
            double d = Math.Sqrt(Enumerable.Range(0, n).Sum(i => Math.Pow((double)x8[i] - x32[i], 2)));
            worst = Math.Max(worst, d / dist0);
        }
        double l32 = Loss(p32.Value.ToFloatArray()), l8 = Loss(p8.Value.ToFloatArray()), lStart = Loss(x0);
        output.WriteLine($"quadratic n={n}, {steps} steps cosine lr 5e-2: loss {lStart:F2} → f32 {l32:E3}, 8-bit {l8:E3}; " +
                         $"max over steps ‖x8 − x32‖/‖x0 − c‖ = {worst:E3}");
        // measured 0.057 (max at any step) on this problem; the bound leaves headroom for other CPUs' rounding
        worst.Should().BeLessThan(0.1, "the 8-bit trajectory stays within 10% of the starting distance from the F32 one");
        l8.Should().BeLessThan(2 * l32 + 1e-6 * lStart, "it ends about as low as F32 AdamW");
        l8.Should().BeLessThan(1e-3 * lStart, "the 8-bit optimizer converges too");
        p32.Value.Dispose(); p8.Value.Dispose();
    }

    [Fact]
    public void State_is_about_two_bytes_per_parameter()
    {
        var ps = OptimizerTestData.Parameters(Device.Cpu);   // 259, 37 and 300 parameters: 2, 1 and 2 blocks
        using var opt = new PagedAdamW8bit(ps);
        opt.IsPaged.Should().BeFalse("the CPU updates its states in place");
        opt.StateBytes.Should().Be(2 * (259 + 37 + 300) + 2 * 4 * (2 + 1 + 2));
        opt.DeviceStateBytes.Should().Be(opt.StateBytes);
        OptimizerTestData.Dispose(ps);
    }

    [Fact]
    public void Chunked_device_path_equals_the_unchunked_one_exactly_on_ilgpu_cpu()
    {
        Shared.SimulatorChecks.Require();
        Backends.Available().Should().Contain(Device.IlgpuCpu, "ILGPU's CPU accelerator is always present");
        var paged = OptimizerTestData.Parameters(Device.IlgpuCpu);
        var resident = OptimizerTestData.Clone(paged);
        var options = new AdamWOptions { WeightDecay = 0.1f };
        using var a = new PagedAdamW8bit(paged, options, chunkElements: 256);           // 300 parameters: two chunks
        using var b = new PagedAdamW8bit(resident, options, paged: false);
        a.IsPaged.Should().BeTrue();
        a.ChunkElements.Should().Be(256);
        a.DeviceStateBytes.Should().Be(2 * 256 + 2 * 4);
        b.DeviceStateBytes.Should().Be(b.StateBytes);
        output.WriteLine($"paged: StateBytes {a.StateBytes} (host), DeviceStateBytes {a.DeviceStateBytes}; resident: {b.DeviceStateBytes} on the device");
        for (int s = 0; s < 3; s++)
        {
            OptimizerTestData.SetGradients(paged, s);
            OptimizerTestData.SetGradients(resident, s);
            a.Step(1e-2f); b.Step(1e-2f);
        }
        for (int i = 0; i < paged.Length; i++)
            paged[i].Value.ToFloatArray().Should().Equal(resident[i].Value.ToFloatArray(), paged[i].Name);
        OptimizerTestData.Dispose(paged);
        OptimizerTestData.Dispose(resident);
    }

    [Theory, MemberData(nameof(OptimizerTestData.Devices), MemberType = typeof(OptimizerTestData))]
    public void Save_then_load_resumes_bit_for_bit(string device) =>
        OptimizerResume.CheckBitExact(ps => new PagedAdamW8bit(ps, new AdamWOptions { WeightDecay = 0.05f }, chunkElements: 256), Device.Parse(device));

    [Fact]
    public void Load_rejects_a_state_of_other_parameters_naming_them() =>
        OptimizerResume.CheckRejectsOtherParameters(ps => new PagedAdamW8bit(ps), Device.Cpu);

    [Fact]
    public void Load_rejects_an_adamw_state()
    {
        var ps = OptimizerTestData.Parameters(Device.Cpu);
        using var dir = new PureLlama.Tests.IO.TempDir();
        string path = dir.File("adamw.safetensors");
        using (var f32 = new AdamWOptimizer(ps)) f32.SaveState(path);
        using var q8 = new PagedAdamW8bit(ps);
        var act = () => q8.LoadState(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*PureLlama.AdamW*");
        OptimizerTestData.Dispose(ps);
    }
}
