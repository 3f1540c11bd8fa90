using PureLlama.Kernels;
using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// y = a ∘ b with numpy broadcasting. Backward reduces each gradient back to its input's shape:
/// add: (g, g); sub: (g, −g); mul: (g·b, g·a); div: (g/b, −g·a/b²).
/// </summary>
internal sealed class BinaryFunction : Function
{
    private BinaryOp _op;
    private Tensor? _a, _b;

    public override string Name => _op.ToString();

    public static Tensor Apply(BinaryOp op, Tensor a, Tensor b)
    {
        if (a.DType != DType.F32 || b.DType != DType.F32) throw new ArgumentException($"{op}: F32 operands expected, got {a.Describe()} and {b.Describe()}.");
        var shape = Shape.Broadcast(a.Shape, b.Shape);
        var ca = a.Contiguous();
        var cb = b.Contiguous();
        var y = Tensor.Empty(shape, DType.F32, a.Device);
        a.Backend.Binary(op, ca, cb, y);
        return Tape.Record(new BinaryFunction { _op = op, _a = ca, _b = cb }, y, a, b);
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var backend = g.Backend;
        var a = _a!; var b = _b!;
        Tensor? da = null, db = null;
        if (NeedsGrad(0))
        {
            using var full = _op switch
            {
                BinaryOp.Add or BinaryOp.Sub => null,
                BinaryOp.Mul => Elementwise(BinaryOp.Mul, g, b),
                _ => Elementwise(BinaryOp.Div, g, b),
            };
            da = ReduceTo(full ?? g, a.Shape);
        }
        if (NeedsGrad(1))
        {
            Tensor? full = null;
            switch (_op)
            {
                case BinaryOp.Add: break;
                case BinaryOp.Sub: full = Tensor.Empty(g.Shape, DType.F32, g.Device); backend.Scale(g, -1f, full); break;
                case BinaryOp.Mul: full = Elementwise(BinaryOp.Mul, g, a); break;
                default:
                    {
                        // −g·a/b²
                        using var ga = Elementwise(BinaryOp.Mul, g, a);
                        using var gab = Elementwise(BinaryOp.Div, ga, b);
                        full = Elementwise(BinaryOp.Div, gab, b);
                        backend.Scale(full, -1f, full);
                        break;
                    }
            }
            using (full) db = ReduceTo(full ?? g, b.Shape);
        }
        return [da, db];
    }

    private static Tensor Elementwise(BinaryOp op, Tensor x, Tensor z)
    {
        var y = Tensor.Empty(Shape.Broadcast(x.Shape, z.Shape), DType.F32, x.Device);
        x.Backend.Binary(op, x, z, y);
        return y;
    }

    /// <summary>Sums a gradient of the broadcast shape down to <paramref name="shape"/> (a fresh tensor).</summary>
    internal static Tensor ReduceTo(Tensor g, Shape shape)
    {
        var r = Tensor.Empty(shape, DType.F32, g.Device);
        if (g.Shape == shape) g.Backend.Copy(g, r);
        else g.Backend.SumToShape(g, r);
        return r;
    }

    protected internal override void ReleaseSaved() { _a = null; _b = null; }
}
