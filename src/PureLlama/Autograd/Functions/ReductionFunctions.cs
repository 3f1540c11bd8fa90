using PureLlama.Kernels;
using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>y = α·x; dx = α·g.</summary>
internal sealed class ScaleFunction : Function
{
    private float _alpha;

    public static Tensor Apply(Tensor x, float alpha)
    {
        var cx = x.Contiguous();
        var y = Tensor.Empty(x.Shape, DType.F32, x.Device);
        x.Backend.Scale(cx, alpha, y);
        return Tape.Record(new ScaleFunction { _alpha = alpha }, y, x);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dx = Tensor.Empty(g.Shape, DType.F32, g.Device);
        g.Backend.Scale(g, _alpha, dx);
        return [dx];
    }
}

/// <summary>s = α·Σx over all elements (α = 1 for sum, 1/n for mean); dx = α·g broadcast.</summary>
internal sealed class SumFunction : Function
{
    private float _alpha;
    private Shape _inputShape;

    public static Tensor Apply(Tensor x, bool mean)
    {
        var cx = x.Contiguous();
        var s = Tensor.Empty(new Shape(), DType.F32, x.Device);
        x.Backend.SumToShape(cx, s);
        float alpha = mean ? 1f / x.Numel : 1f;
        if (mean) x.Backend.Scale(s, alpha, s);
        return Tape.Record(new SumFunction { _alpha = alpha, _inputShape = x.Shape }, s, x);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dx = Tensor.Empty(_inputShape, DType.F32, g.Device);
        using var zero = Tensor.Empty(new Shape(), DType.F32, g.Device);
        g.Backend.Binary(BinaryOp.Add, g, zero, dx); // broadcast g to the input shape
        if (_alpha != 1f) g.Backend.Scale(dx, _alpha, dx);
        return [dx];
    }
}
