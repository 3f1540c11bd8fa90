using PureLlama.Quantization;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Quantization;

public class GptqAwqTests(ITestOutputHelper output)
{
    [Fact]
    public void Gptq_and_awq_beat_rtn_on_held_out_inputs()
    {
        var layer = new SyntheticLayer(256, 512, calibrationRows: 2048, heldOutRows: 1024, seed: 42);
        var (rtn, gptq, gptqAct, awq) = layer.CompareMethods();
        output.WriteLine($"RTN {rtn:E3}  GPTQ {gptq:E3}  GPTQ act-order {gptqAct:E3}  AWQ {awq:E3}");
        gptq.Should().BeLessThan(rtn);
        gptqAct.Should().BeLessThan(rtn);
        awq.Should().BeLessThan(rtn);
    }

    [Fact]
    public void Awq_scale_folding_leaves_the_unquantized_output_unchanged()
    {
        var layer = new SyntheticLayer(64, 128, calibrationRows: 256, heldOutRows: 64, seed: 7);
        var scales = Awq.SearchScales(layer.Calibration, [layer.Weight]);
        scales.Loss.Should().BeLessThanOrEqualTo(scales.LossWithoutScales);
        // Norm path: y = (x ⊙ g)·Wᵀ  →  (x ⊙ g/s)·(W·diag s)ᵀ.
        var rng = new Rng(8);
        var g = new float[128];
        rng.FillUniform(g, 0.5, 1.5);
        var x = layer.HeldOut;
        var before = Scale(x, g).TimesTransposed(layer.Weight);
        var folded = layer.Weight.Clone();
        AwqFold.ScaleInputColumns(folded, scales.Scales);
        var g2 = (float[])g.Clone();
        AwqFold.DivideNormWeight(g2, scales.Scales);
        RelErr(Scale(x, g2).TimesTransposed(folded), before).Should().BeLessThan(1e-5);
        // Linear path: y = (x·Pᵀ)·Wᵀ with P [128, 32] the preceding linear.
        var p = new float[128 * 32];
        rng.FillNormal(p);
        var prev = new HostMatrix(p, 128, 32);
        var x32 = new HostMatrix(x.Data[..(x.Rows * 32)], x.Rows, 32);
        var before2 = new HostMatrix(x32.TimesTransposed(prev), x.Rows, 128).TimesTransposed(layer.Weight);
        var prev2 = prev.Clone();
        AwqFold.DivideOutputRows(prev2, scales.Scales);
        var after2 = new HostMatrix(x32.TimesTransposed(prev2), x.Rows, 128).TimesTransposed(folded);
        RelErr(after2, before2).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Gptq_with_identity_hessian_equals_rtn()
    {
        // With H = I (uncorrelated unit inputs) the error feedback is zero: GPTQ reduces to RTN.
        var rng = new Rng(3);
        var w = new float[16 * 64];
        rng.FillNormal(w);
        var h = new double[64 * 64];
        for (int i = 0; i < 64; i++) h[i * 64 + i] = 2;
        var quant = new GroupQuantOptions(4, 32, true);
        var gptq = Gptq.Quantize(w, 16, 64, h, new GptqOptions(quant, DampPercent: 0));
        gptq.Codes.Should().Equal(Rtn.Quantize(w, 16, 64, quant).Codes);
    }

    [Fact]
    public void Gptq_act_order_records_g_idx_and_handles_dead_columns()
    {
        var layer = new SyntheticLayer(32, 64, calibrationRows: 256, heldOutRows: 16, seed: 5);
        var x = layer.Calibration.Clone();
        for (int r = 0; r < x.Rows; r++) x.Data[r * 64 + 3] = 0; // input 3 never fires
        var hessian = new GptqHessian(64);
        hessian.Add(x.Data.AsSpan(0, 100 * 64), 100);
        hessian.Add(x.Data.AsSpan(100 * 64), x.Rows - 100);
        hessian.Samples.Should().Be(x.Rows);
        var q = Gptq.Quantize(layer.Weight.Data, 32, 64, hessian, new GptqOptions(new GroupQuantOptions(4, 16, false), ActOrder: true));
        q.IsSequential.Should().BeFalse();
        q.GIdx.GroupBy(v => v).Select(grp => grp.Count()).Should().AllBeEquivalentTo(16);
        var deq = q.Dequantize();
        for (int o = 0; o < 32; o++) deq[o * 64 + 3].Should().Be(0f, "a dead input's weights are zeroed");
    }

    [Fact]
    public void Cholesky_inverse_factor_matches_the_inverse()
    {
        var rng = new Rng(9);
        int n = 37;
        var m = new float[n * n];
        rng.FillNormal(m);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = i == j ? n : 0;
                for (int k = 0; k < n; k++) s += (double)m[i * n + k] * m[j * n + k];
                a[i * n + j] = s;
            }
        Cholesky64.TryInverseUpperFactor(a, n, out var u).Should().BeTrue();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) u[i * n + j].Should().Be(0);
        // A·(UᵀU) = I
        double maxErr = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++)
                {
                    double inv = 0;
                    for (int t = 0; t < n; t++) inv += u[t * n + k] * u[t * n + j];
                    s += a[i * n + k] * inv;
                }
                maxErr = Math.Max(maxErr, Math.Abs(s - (i == j ? 1 : 0)));
            }
        maxErr.Should().BeLessThan(1e-10);
        var notPd = new double[4] { 1, 2, 2, 1 };
        Cholesky64.TryFactor(notPd, 2, out _).Should().BeFalse();
    }

    private static HostMatrix Scale(HostMatrix x, float[] g)
    {
        var y = x.Clone();
        for (int r = 0; r < y.Rows; r++)
            for (int c = 0; c < y.Columns; c++) y.Data[r * y.Columns + c] *= g[c];
        return y;
    }

    private static double RelErr(float[] a, float[] b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++) { double d = a[i] - b[i]; num += d * d; den += (double)b[i] * b[i]; }
        return Math.Sqrt(num / den);
    }
}
