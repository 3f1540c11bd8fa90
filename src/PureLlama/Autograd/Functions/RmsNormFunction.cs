using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// y = x·rstd·w over the last dimension, rstd = 1/√(mean(x²) + eps). The forward saves rstd per row;
/// the backward is one fused kernel producing dx and accumulating dw.
/// </summary>
internal sealed class RmsNormFunction : Function
{
    private Tensor? _x, _w, _rstd;

    public static Tensor Apply(Tensor x, Tensor weight, float eps)
    {
        int dim = x.Shape[-1];
        if (weight.Rank != 1 || weight.Shape[0] != dim) throw new ArgumentException($"RmsNorm: weight {weight.Describe()} does not match the last dimension of {x.Describe()}.");
        var cx = x.Contiguous();
        int rows = (int)(x.Numel / dim);
        using var x2 = cx.ViewWith(new Shape(rows, dim), [dim, 1], cx.Offset);
        var y = Tensor.Empty(x.Shape, DType.F32, x.Device);
        using var y2 = y.ViewWith(new Shape(rows, dim), [dim, 1], 0);
        var rstd = Tensor.Empty(new Shape(rows), DType.F32, x.Device);
        x.Backend.RmsNorm(x2, weight, eps, y2, rstd);
        return Tape.Record(new RmsNormFunction { _x = cx, _w = weight, _rstd = rstd }, y, x, weight);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var x = _x!; var w = _w!;
        int dim = x.Shape[-1], rows = (int)(x.Numel / dim);
        var dx = Tensor.Empty(x.Shape, DType.F32, x.Device);
        var dw = Tensor.Zeros(new Shape(dim), DType.F32, x.Device);
        using (var g2 = g.ViewWith(new Shape(rows, dim), [dim, 1], g.Offset))
        using (var x2 = x.ViewWith(new Shape(rows, dim), [dim, 1], x.Offset))
        using (var dx2 = dx.ViewWith(new Shape(rows, dim), [dim, 1], 0))
            g.Backend.RmsNormBackward(g2, x2, w, _rstd!, dx2, dw);
        if (!NeedsGrad(1)) { dw.Dispose(); dw = null!; }
        return [NeedsGrad(0) ? dx : Drop(dx), dw];
    }

    private static Tensor? Drop(Tensor t) { t.Dispose(); return null; }

    protected internal override void ReleaseSaved() { _x = null; _w = null; _rstd?.Dispose(); _rstd = null; }
}
