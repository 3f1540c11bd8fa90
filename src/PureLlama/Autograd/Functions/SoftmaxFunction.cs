using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>Softmax over the last dimension; dx = y·(g − Σ g·y).</summary>
internal sealed class SoftmaxFunction : Function
{
    private Tensor? _y;

    public static Tensor Apply(Tensor x)
    {
        var cx = x.Contiguous();
        var y = Tensor.Empty(x.Shape, DType.F32, x.Device);
        x.Backend.Softmax(cx, y);
        return Tape.Record(new SoftmaxFunction { _y = y }, y, x);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dx = Tensor.Empty(g.Shape, DType.F32, g.Device);
        g.Backend.SoftmaxBackward(_y!, g, dx);
        return [dx];
    }

    protected internal override void ReleaseSaved() => _y = null;
}
