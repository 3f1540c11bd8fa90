using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// C = op(A)·op(B) with op ∈ {identity, transpose}; A: [.., m, k], B: [k, n] (shared) or [.., k, n].
/// Backward: dA = dC·op(B)ᵀ (transposed back when A was), dB = op(A)ᵀ·dC summed over the batch.
/// </summary>
internal sealed class MatMulFunction : Function
{
    private Tensor? _a, _b;
    private bool _transA, _transB;
    private bool _aFlipped, _bFlipped; // the kernel operand is the transpose of the user's tensor

    public static Tensor Apply(Tensor a, Tensor b, bool transA, bool transB)
    {
        if (a.Rank < 2 || b.Rank < 2) throw new ArgumentException($"MatMul needs matrices: got {a.Describe()} and {b.Describe()}.");
        if (b.DType != DType.F32 && b.RequiresGrad) throw new ArgumentException($"MatMul: {b.Describe()} requires a gradient but is {b.DType}; train F32 weights (BF16 weights are frozen).");
        bool aFlipped = false, bFlipped = false;
        var A = Operand(a, ref transA, ref aFlipped);
        var B = Operand(b, ref transB, ref bFlipped);
        if (A.Rank > 2 && B.Rank == 2 && transA) A = Materialize(A, ref transA, ref aFlipped);
        int m = transA ? A.Shape[-1] : A.Shape[-2];
        int k = transA ? A.Shape[-2] : A.Shape[-1];
        int kb = transB ? B.Shape[-1] : B.Shape[-2];
        int n = transB ? B.Shape[-2] : B.Shape[-1];
        if (k != kb) throw new ArgumentException($"MatMul: inner dimensions differ: {a.Describe()}{(transA ? "ᵀ" : "")} · {b.Describe()}{(transB ? "ᵀ" : "")} ({k} vs {kb}).");
        var outDims = A.Shape.ToArray();
        outDims[^2] = m; outDims[^1] = n;
        var c = Tensor.Empty(new Shape(outDims), DType.F32, a.Device);
        a.Backend.MatMul(A, B, c, transA, transB, accumulate: false);
        var fn = new MatMulFunction { _a = A, _b = B, _transA = transA, _transB = transB, _aFlipped = aFlipped, _bFlipped = bFlipped };
        return Tape.Record(fn, c, a, b);
    }

    // A transposed 2-D-tail view of contiguous memory is passed as the contiguous tensor with the flag flipped.
    private static Tensor Operand(Tensor t, ref bool trans, ref bool flipped)
    {
        if (t.IsContiguous) return t;
        var swapped = t.TransposeView(-1, -2);
        if (swapped.IsContiguous) { trans = !trans; flipped = true; return swapped; }
        swapped.Dispose();
        return t.ContiguousCopy();
    }

    // Batched A against a shared B cannot be used transposed by the kernel: store op(A) densely.
    private static Tensor Materialize(Tensor t, ref bool trans, ref bool flipped)
    {
        using var view = t.TransposeView(-1, -2);
        trans = false;
        flipped = !flipped;
        return view.ContiguousCopy();
    }

    protected internal override Tensor?[] Backward(Tensor dC)
    {
        var a = _a!; var b = _b!;
        var backend = dC.Backend;
        Tensor? dA = null, dB = null;
        if (NeedsGrad(0))
        {
            // dA = dC·op(B)ᵀ, or (dC·op(B)ᵀ)ᵀ = op(B)·dCᵀ when A was used transposed.
            dA = Tensor.Empty(a.Shape, DType.F32, a.Device);
            if (!_transA) backend.MatMul(dC, b, dA, transA: false, transB: !_transB, accumulate: false);
            else backend.MatMul(b, dC, dA, transA: _transB, transB: true, accumulate: false);
            if (_aFlipped) dA = TransposeCopy(dA);
        }
        if (NeedsGrad(1))
        {
            dB = Tensor.Empty(b.Shape, DType.F32, b.Device);
            if (b.Rank == 2 && a.Rank > 2)
            {
                // Shared weight: fold the batch into rows (A is never transposed here).
                using var a2 = a.ViewWith(new Shape((int)(a.Numel / a.Shape[-1]), a.Shape[-1]), [a.Shape[-1], 1], a.Offset);
                using var dC2 = dC.ViewWith(new Shape((int)(dC.Numel / dC.Shape[-1]), dC.Shape[-1]), [dC.Shape[-1], 1], dC.Offset);
                if (!_transB) backend.MatMul(a2, dC2, dB, transA: true, transB: false, accumulate: false);
                else backend.MatMul(dC2, a2, dB, transA: true, transB: false, accumulate: false);
            }
            else if (!_transB) backend.MatMul(a, dC, dB, transA: !_transA, transB: false, accumulate: false);
            else backend.MatMul(dC, a, dB, transA: true, transB: _transA, accumulate: false);
            if (_bFlipped) dB = TransposeCopy(dB);
        }
        return [dA, dB];
    }

    // The gradient was computed for the operand as passed to the kernel; map it back to the user's view.
    private static Tensor TransposeCopy(Tensor grad)
    {
        using (grad)
        {
            using var view = grad.TransposeView(-1, -2);
            return view.ContiguousCopy();
        }
    }

    protected internal override void ReleaseSaved() { _a = null; _b = null; }
}
