using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>y = x·σ(x); dx = g·σ(x)(1 + x(1 − σ(x))).</summary>
internal sealed class SiluFunction : Function
{
    private Tensor? _x;

    public static Tensor Apply(Tensor x)
    {
        var cx = x.Contiguous();
        var y = Tensor.Empty(x.Shape, DType.F32, x.Device);
        x.Backend.Silu(cx, y);
        return Tape.Record(new SiluFunction { _x = cx }, y, x);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dx = Tensor.Empty(g.Shape, DType.F32, g.Device);
        g.Backend.SiluBackward(_x!, g, dx);
        return [dx];
    }

    protected internal override void ReleaseSaved() => _x = null;
}

/// <summary>The Llama MLP gate: y = silu(gate)·up, fused forward and backward.</summary>
internal sealed class SwiGluFunction : Function
{
    private Tensor? _gate, _up;

    public static Tensor Apply(Tensor gate, Tensor up)
    {
        if (gate.Shape != up.Shape) throw new ArgumentException($"SwiGlu: gate {gate.Describe()} and up {up.Describe()} differ in shape.");
        var cg = gate.Contiguous(); var cu = up.Contiguous();
        var y = Tensor.Empty(gate.Shape, DType.F32, gate.Device);
        gate.Backend.SwiGlu(cg, cu, y);
        return Tape.Record(new SwiGluFunction { _gate = cg, _up = cu }, y, gate, up);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var dGate = Tensor.Empty(g.Shape, DType.F32, g.Device);
        var dUp = Tensor.Empty(g.Shape, DType.F32, g.Device);
        g.Backend.SwiGluBackward(_gate!, _up!, g, dGate, dUp);
        return [dGate, dUp];
    }

    protected internal override void ReleaseSaved() { _gate = null; _up = null; }
}

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
