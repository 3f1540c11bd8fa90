using PureLlama.Kernels.Unary;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Tests.Llama;

/// <summary>The gated MLP applies the activation config.json names: down(f(gate·h)·(up·h)) against float64.</summary>
public class LlamaMlpTests
{
    public static TheoryData<string> Ops() => [.. UnaryOp.All.Select(o => o.Name)];

    [Theory, MemberData(nameof(Ops))]
    public void Mlp_uses_its_activation(string name)
    {
        var op = UnaryOp.All.Single(o => o.Name == name);
        const int n = 3, c = 5, inter = 7;
        var rng = new Rng(11);
        using var h = Tensor.RandU(new Shape(n, c), rng, -2, 2, DType.F32, Device.Cpu);
        var wg = Tensor.RandU(new Shape(inter, c), rng, -1, 1, DType.F32, Device.Cpu);
        var wu = Tensor.RandU(new Shape(inter, c), rng, -1, 1, DType.F32, Device.Cpu);
        var wd = Tensor.RandU(new Shape(c, inter), rng, -1, 1, DType.F32, Device.Cpu);
        float[] hv = h.ToArray<float>(), g = wg.ToArray<float>(), u = wu.ToArray<float>(), dn = wd.ToArray<float>();
        using var mlp = new LlamaMlp(new Linear(wg), new Linear(wu), new Linear(wd), op);
        using var y = mlp.Forward(h);
        var got = y.ToArray<float>();
        for (int r = 0; r < n; r++)
        {
            var a = new double[inter];
            for (int i = 0; i < inter; i++)
            {
                double gs = 0, us = 0;
                for (int k = 0; k < c; k++) { gs += (double)g[i * c + k] * hv[r * c + k]; us += (double)u[i * c + k] * hv[r * c + k]; }
                a[i] = op.Reference(gs) * us;
            }
            for (int o = 0; o < c; o++)
            {
                double expected = 0;
                for (int i = 0; i < inter; i++) expected += dn[o * inter + i] * a[i];
                got[r * c + o].Should().BeApproximately((float)expected, 1e-4f, $"{op} row {r} col {o}");
            }
        }
    }
}
