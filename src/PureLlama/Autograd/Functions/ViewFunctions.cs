using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>Reshape: a view when strides allow, else a copy; the gradient is reshaped back.</summary>
internal sealed class ReshapeFunction : Function
{
    public static Tensor Apply(Tensor x, Shape shape)
    {
        var strides = x.StridesForReshape(shape);
        Tensor y;
        if (strides is not null) y = x.ViewWith(shape, strides, x.Offset);
        else
        {
            using var dense = x.ContiguousCopy();
            y = dense.ViewWith(shape, shape.ContiguousStrides(), 0);
        }
        return Tape.Record(new ReshapeFunction(), y, x);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var shape = Inputs[0].Shape;
        var dense = g.IsContiguous ? g : g.ContiguousCopy();
        var dx = dense.ViewWith(shape, shape.ContiguousStrides(), dense.Offset);
        if (!ReferenceEquals(dense, g)) dense.Dispose();
        return [dx];
    }
}

/// <summary>Transpose of two dimensions (a view); the gradient is transposed back.</summary>
internal sealed class TransposeFunction : Function
{
    private int _d0, _d1;

    public static Tensor Apply(Tensor x, int d0, int d1) =>
        Tape.Record(new TransposeFunction { _d0 = d0, _d1 = d1 }, x.TransposeView(d0, d1), x);

    protected internal override Tensor?[] Backward(Tensor g)
    {
        using var view = g.TransposeView(_d0, _d1);
        return [view.ContiguousCopy()];
    }
}

/// <summary>A slice along one dimension (a view); the gradient is the slice's gradient padded with zeros.</summary>
internal sealed class SliceFunction : Function
{
    private int _dim, _start;

    public static Tensor Apply(Tensor x, int dim, int start, int length) =>
        Tape.Record(new SliceFunction { _dim = x.Shape.NormalizeAxis(dim), _start = start }, x.SliceView(dim, start, length), x);

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dx = Tensor.Zeros(Inputs[0].Shape, DType.F32, g.Device);
        using var window = dx.SliceView(_dim, _start, g.Shape[_dim]);
        g.Backend.Copy(g, window);
        return [dx];
    }
}

/// <summary>A contiguous copy; the gradient passes through.</summary>
internal sealed class ContiguousFunction : Function
{
    public static Tensor Apply(Tensor x) => Tape.Record(new ContiguousFunction(), x.ContiguousCopy(), x);

    protected internal override Tensor?[] Backward(Tensor g) => [g.ContiguousCopy()];
}
