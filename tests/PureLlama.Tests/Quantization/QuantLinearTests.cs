using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Tests.Quantization;

/// <summary>QuantLinear forward/backward against the dense layer over the dequantized weight, and argument errors.</summary>
public sealed class QuantLinearTests
{
    private static QuantizedTensor Quantize(bool nf4, int rows, int cols, ulong seed)
    {
        using var w = Tensor.RandU(new Shape(rows, cols), new Rng(seed), -1f, 1f);
        return nf4 ? Nf4Quantizer.Quantize(w) : Int8Quantizer.Quantize(w);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(true, 20)]
    [InlineData(false, 2)]
    [InlineData(false, 20)]
    public void Forward_matches_dense_linear_over_the_dequantized_weight(bool nf4, int tokens)
    {
        using var layer = new QuantLinear(Quantize(nf4, 70, 100, 3));
        layer.InFeatures.Should().Be(100);
        layer.OutFeatures.Should().Be(70);
        using var dense = Tensor.Empty(new Shape(70, 100));
        dense.Backend.Dequantize(layer.Weight, dense);
        using var x = Tensor.RandU(new Shape(2, tokens, 100), new Rng(5), -1f, 1f);
        using var y = layer.Forward(x);
        using var expected = Ops.Linear(x, dense);
        y.Shape.Should().Be(new Shape(2, tokens, 70));
        var a = y.ToFloatArray();
        var b = expected.ToFloatArray();
        for (int i = 0; i < a.Length; i++) a[i].Should().BeApproximately(b[i], 1e-4f);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GradCheck_dx(bool nf4)
    {
        using var w = Quantize(nf4, 9, 70, 11);
        var x = Tensor.RandU(new Shape(3, 70), new Rng(13), -1f, 1f);
        x.RequiresGrad = true;
        var worst = GradCheck.Run(t => Ops.Sum(Ops.Mul(Ops.QuantLinear(t[0], w), Ops.QuantLinear(t[0], w))), [x]);
        worst.RelativeError.Should().BeLessThan(2e-3, worst.ToString());
        x.Dispose();
    }

    [Fact]
    public void Bad_arguments_name_both_shapes()
    {
        using var w = Quantize(true, 8, 64, 1);
        using var x = Tensor.RandU(new Shape(3, 60), new Rng(1));
        FluentActions.Invoking(() => Ops.QuantLinear(x, w)).Should().Throw<ArgumentException>().WithMessage("*[3, 60]*64*[8, 64]*");
        using var x2 = Tensor.RandU(new Shape(3, 64), new Rng(1));
        using var y = Tensor.Empty(new Shape(3, 9));
        FluentActions.Invoking(() => x2.Backend.QuantizedMatMul(x2, w, y, false, false)).Should().Throw<ArgumentException>().WithMessage("*y*[3, 9]*8*");
        using var xt = Tensor.RandU(new Shape(64, 3), new Rng(1));
        using var view = xt.TransposeView(0, 1);
        using var y8 = Tensor.Empty(new Shape(3, 8));
        FluentActions.Invoking(() => xt.Backend.QuantizedMatMul(view, w, y8, false, false)).Should().Throw<ArgumentException>().WithMessage("*contiguous*");
        using var bad = Tensor.Empty(new Shape(8, 63));
        FluentActions.Invoking(() => bad.Backend.Dequantize(w, bad)).Should().Throw<ArgumentException>().WithMessage("*[8, 63]*[8, 64]*");
    }
}
