using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// Rotary position embedding (rotate-half layout) on x: [.., heads, headDim] with one position per
/// row of heads. A rotation is orthogonal, so the backward rotates the gradient by −θ.
/// </summary>
internal sealed class RopeFunction : Function
{
    private Tensor? _positions, _cos, _sin;

    public static Tensor Apply(Tensor x, Tensor positions, Tensor cos, Tensor sin)
    {
        if (x.Rank < 2) throw new ArgumentException($"Rope: x must be [.., heads, headDim], got {x.Describe()}.");
        int heads = x.Shape[-2], headDim = x.Shape[-1];
        int tokens = (int)(x.Numel / ((long)heads * headDim));
        var cx = x.Contiguous();
        using var x3 = cx.ViewWith(new Shape(tokens, heads, headDim), [(long)heads * headDim, headDim, 1], cx.Offset);
        var y = Tensor.Empty(x.Shape, DType.F32, x.Device);
        using var y3 = y.ViewWith(x3.Shape, [(long)heads * headDim, headDim, 1], 0);
        x.Backend.Rope(x3, positions, cos, sin, y3, inverse: false);
        return Tape.Record(new RopeFunction { _positions = positions, _cos = cos, _sin = sin }, y, x);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        int heads = g.Shape[-2], headDim = g.Shape[-1];
        int tokens = (int)(g.Numel / ((long)heads * headDim));
        var dx = Tensor.Empty(g.Shape, DType.F32, g.Device);
        using var g3 = g.ViewWith(new Shape(tokens, heads, headDim), [(long)heads * headDim, headDim, 1], g.Offset);
        using var d3 = dx.ViewWith(g3.Shape, [(long)heads * headDim, headDim, 1], 0);
        g.Backend.Rope(g3, _positions!, _cos!, _sin!, d3, inverse: true);
        return [dx];
    }

    protected internal override void ReleaseSaved() { _positions = null; _cos = null; _sin = null; }
}
