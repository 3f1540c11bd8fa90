using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>y = f(x) for any op of the unary family; dx = g·f'(x).</summary>
internal sealed class UnaryFunction : Function
{
    private UnaryOp _op = UnaryOp.Silu;
    private Tensor? _x;

    public static Tensor Apply(UnaryOp op, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(op);
        var cx = x.Contiguous();
        var y = Tensor.Empty(x.Shape, DType.F32, x.Device);
        x.Backend.Unary(op, cx, y);
        return Tape.Record(new UnaryFunction { _op = op, _x = cx }, y, x);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dx = Tensor.Empty(g.Shape, DType.F32, g.Device);
        g.Backend.UnaryBackward(_op, _x!, g, dx);
        return [dx];
    }

    protected internal override void ReleaseSaved() => _x = null;
}

/// <summary>The gated MLP activation y = f(gate)·up (SwiGLU, GeGLU), fused forward and backward.</summary>
internal sealed class GatedFunction : Function
{
    private UnaryOp _op = UnaryOp.Silu;
    private Tensor? _gate, _up;

    public static Tensor Apply(UnaryOp op, Tensor gate, Tensor up)
    {
        ArgumentNullException.ThrowIfNull(op);
        if (gate.Shape != up.Shape) throw new ArgumentException($"Gated {op}: gate {gate.Describe()} and up {up.Describe()} differ in shape.");
        var cg = gate.Contiguous(); var cu = up.Contiguous();
        var y = Tensor.Empty(gate.Shape, DType.F32, gate.Device);
        gate.Backend.Gated(op, cg, cu, y);
        return Tape.Record(new GatedFunction { _op = op, _gate = cg, _up = cu }, y, gate, up);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dGate = Tensor.Empty(g.Shape, DType.F32, g.Device);
        var dUp = Tensor.Empty(g.Shape, DType.F32, g.Device);
        g.Backend.GatedBackward(_op, _gate!, _up!, g, dGate, dUp);
        return [dGate, dUp];
    }

    protected internal override void ReleaseSaved() { _gate = null; _up = null; }
}
