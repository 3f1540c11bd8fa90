using PureLlama.Tests.IO;
using PureLlama.Training;

namespace PureLlama.Tests.Training;

/// <summary>The save/load contract of every <see cref="IOptimizer"/>: N steps, save, load into a fresh optimizer, M more steps = N+M steps.</summary>
internal static class OptimizerResume
{
    public static void CheckBitExact(Func<NamedParameter[], IOptimizer> make, PureLlama.Tensors.Device device, int n = 3, int m = 4)
    {
        var straight = OptimizerTestData.Parameters(device);
        var first = OptimizerTestData.Clone(straight);
        using var dir = new TempDir();
        string path = dir.File("optimizer.safetensors");
        using (var a = make(straight))
            for (int s = 0; s < n + m; s++) { OptimizerTestData.SetGradients(straight, s); a.Step(1e-2f); a.ZeroGrad(); }
        using (var b = make(first))
        {
            for (int s = 0; s < n; s++) { OptimizerTestData.SetGradients(first, s); b.Step(1e-2f); b.ZeroGrad(); }
            b.SaveState(path);
        }
        File.Exists(path + ".tmp").Should().BeFalse("the state is written to a temporary file and renamed");
        var resumed = OptimizerTestData.Clone(first);
        using (var c = make(resumed))
        {
            c.LoadState(path);
            c.StepCount.Should().Be(n);
            for (int s = n; s < n + m; s++) { OptimizerTestData.SetGradients(resumed, s); c.Step(1e-2f); c.ZeroGrad(); }
            c.StepCount.Should().Be(n + m);
        }
        for (int i = 0; i < straight.Length; i++)
            resumed[i].Value.ToFloatArray().Should().Equal(straight[i].Value.ToFloatArray(), $"{straight[i].Name} after resume equals the uninterrupted run bit for bit");
        OptimizerTestData.Dispose(straight);
        OptimizerTestData.Dispose(first);
        OptimizerTestData.Dispose(resumed);
    }

    public static void CheckRejectsOtherParameters(Func<NamedParameter[], IOptimizer> make, PureLlama.Tensors.Device device)
    {
        var ps = OptimizerTestData.Parameters(device);
        using var dir = new TempDir();
        string path = dir.File("state.safetensors");
        using (var a = make(ps)) a.SaveState(path);
        var other = ps.Take(2).Append(new NamedParameter("other.weight", ps[2].Value)).ToArray();
        using (var b = make(other))
        {
            var act = () => b.LoadState(path);
            act.Should().Throw<InvalidDataException>().WithMessage("*other.weight*");
        }
        var fewer = ps.Take(2).ToArray();
        using (var b = make(fewer))
        {
            var act = () => b.LoadState(path);
            act.Should().Throw<InvalidDataException>().WithMessage("*lm_head.weight*");
        }
        OptimizerTestData.Dispose(ps);
    }
}
