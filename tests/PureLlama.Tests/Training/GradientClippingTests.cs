using PureLlama.Tensors;
using PureLlama.Training;

namespace PureLlama.Tests.Training;

/// <summary>Global-norm clipping as torch.nn.utils.clip_grad_norm_.</summary>
public class GradientClippingTests
{
    [Theory, MemberData(nameof(OptimizerTestData.Devices), MemberType = typeof(OptimizerTestData))]
    public void Clips_all_gradients_by_one_factor_and_returns_the_norm_before(string device)
    {
        var ps = OptimizerTestData.Parameters(Device.Parse(device));
        OptimizerTestData.SetGradients(ps, 3);
        var before = ps.Select(p => p.Value.Grad!.ToFloatArray()).ToArray();
        double expected = Math.Sqrt(before.SelectMany(g => g).Sum(x => (double)x * x));
        float norm = GradientClipping.ClipGlobalNorm(ps, 1f);
        norm.Should().BeApproximately((float)expected, (float)(1e-5 * expected));
        float coef = (float)(1.0 / (norm + 1e-6));
        for (int i = 0; i < ps.Length; i++)
        {
            var after = ps[i].Value.Grad!.ToFloatArray();
            for (int j = 0; j < after.Length; j++) after[j].Should().BeApproximately(before[i][j] * coef, 1e-6f * Math.Abs(before[i][j] * coef) + 1e-12f);
        }
        GradientClipping.GlobalNorm(ps).Should().BeApproximately(1.0, 1e-5);

        // under the limit: untouched
        float again = GradientClipping.ClipGlobalNorm(ps, 10f);
        again.Should().BeApproximately(1f, 1e-5f);
        var kept = ps[0].Value.Grad!.ToFloatArray();
        GradientClipping.ClipGlobalNorm(ps, 10f);
        ps[0].Value.Grad!.ToFloatArray().Should().Equal(kept);
        OptimizerTestData.Dispose(ps);
    }

    [Fact]
    public void A_non_finite_norm_is_returned_and_nothing_is_scaled()
    {
        var ps = OptimizerTestData.Parameters(Device.Cpu);
        OptimizerTestData.SetGradients(ps, 1);
        var g = ps[2].Value.Grad!.ToFloatArray();
        g[17] = float.NaN;
        ps[2].Value.Grad!.Dispose();
        ps[2].Value.Grad = Tensor.FromArray(g, new Shape(g.Length));
        var first = ps[0].Value.Grad!.ToFloatArray();
        float.IsNaN(GradientClipping.ClipGlobalNorm(ps, 1f)).Should().BeTrue();
        ps[0].Value.Grad!.ToFloatArray().Should().Equal(first);
        g[17] = float.PositiveInfinity;
        ps[2].Value.Grad!.Dispose();
        ps[2].Value.Grad = Tensor.FromArray(g, new Shape(g.Length));
        float.IsPositiveInfinity(GradientClipping.ClipGlobalNorm(ps, 1f)).Should().BeTrue();
        OptimizerTestData.Dispose(ps);
    }

    [Fact]
    public void Parameters_without_gradients_count_as_zero()
    {
        var ps = OptimizerTestData.Parameters(Device.Cpu);
        GradientClipping.ClipGlobalNorm(ps, 1f).Should().Be(0f);
        OptimizerTestData.Dispose(ps);
    }
}
