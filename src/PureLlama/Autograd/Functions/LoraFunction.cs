using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>
/// The LoRA update of a frozen linear layer as one differentiable op:
/// y = base + s·(x_d·Aᵀ)·Bᵀ with x_d: [.., in] (the dropped-out input), A: [r, in], B: [out, r],
/// base: [.., out] (the frozen layer's output, whose own gradient path is the base's function).
/// The forward saves h = s·x_d·Aᵀ [m, r]. Backward, with dY: [m, out]:
/// dB = dYᵀ·h = s·dYᵀ·(x_d·Aᵀ) [out, r]; g = s·dY·B [m, r]; dA = gᵀ·x_d [r, in];
/// dx_d = g·A [m, in]; dBase = dY. Each product is one backend kernel that keeps r in registers
/// (<see cref="Compute.IBackend.LoraForward"/>, <see cref="Compute.IBackend.LoraBackward"/>).
/// With <c>overwriteBase</c> the update is added into the base output's own storage (y is a new handle over it)
/// instead of a copy: no function saves a linear's output, so this drops one [m, out] buffer per adapted layer
/// for as long as the graph lives (≈ 46 MB a layer for Llama-3.2-1B at 512 tokens).
/// </summary>
internal sealed class LoraFunction : Function
{
    private Tensor? _x, _a, _b, _h;
    private float _scale;

    public static Tensor Apply(Tensor x, Tensor a, Tensor b, Tensor baseOutput, float scale, bool overwriteBase = false)
    {
        int inF = x.Shape[-1];
        if (a.Rank != 2 || b.Rank != 2 || a.Shape[1] != inF || b.Shape[1] != a.Shape[0])
            throw new ArgumentException($"LoRA: A {a.Describe()} must be [r, {inF}] and B {b.Describe()} [out, r] for input {x.Describe()}.");
        if (a.DType != DType.F32 || b.DType != DType.F32) throw new ArgumentException($"LoRA: A {a.Describe()} and B {b.Describe()} must be F32.");
        int outF = b.Shape[0], r = a.Shape[0];
        int m = (int)(x.Numel / inF);
        var expected = x.Shape.ToArray(); expected[^1] = outF;
        if (baseOutput.Shape != new Shape(expected))
            throw new ArgumentException($"LoRA: base output {baseOutput.Describe()} must be {new Shape(expected)} for input {x.Describe()} and B {b.Describe()}.");

        var cx = x.IsContiguous ? x : x.ContiguousCopy();
        Tensor y;                                                        // [.., out]
        if (overwriteBase && baseOutput.IsContiguous && baseOutput.DType == DType.F32)
            y = baseOutput.ViewWith(baseOutput.Shape, baseOutput.Shape.ContiguousStrides(), baseOutput.Offset);
        else
        {
            y = Tensor.Empty(baseOutput.Shape, DType.F32, x.Device);
            x.Backend.Copy(baseOutput, y);
        }
        var h = Tensor.Empty(new Shape(m, r), DType.F32, x.Device);     // [m, r] = s·x_d·Aᵀ
        using (var x2 = cx.ViewWith(new Shape(m, inF), [inF, 1], cx.Offset))
        using (var y2 = y.ViewWith(new Shape(m, outF), [outF, 1], y.Offset))
            x.Backend.LoraForward(x2, a, b, scale, h, y2);
        if (!GradMode.IsEnabled) { h.Dispose(); if (!ReferenceEquals(cx, x)) cx.Dispose(); return y; }
        var fn = new LoraFunction { _x = cx, _a = a, _b = b, _h = h, _scale = scale };
        var recorded = Tape.Record(fn, y, x, a, b, baseOutput);
        if (recorded.GradFn is null) { h.Dispose(); if (!ReferenceEquals(cx, x)) cx.Dispose(); }
        return recorded;
    }

    protected internal override Tensor?[] Backward(Tensor dY)
    {
        var x = _x!; var a = _a!; var b = _b!; var h = _h!;
        int inF = x.Shape[-1], outF = b.Shape[0], r = a.Shape[0];
        int m = (int)(x.Numel / inF);
        var backend = dY.Backend;
        var dA = Tensor.Empty(a.Shape, DType.F32, a.Device);           // [r, in]
        var dB = Tensor.Empty(b.Shape, DType.F32, b.Device);           // [out, r]
        Tensor? dX = NeedsGrad(0) ? Tensor.Empty(x.Shape, DType.F32, x.Device) : null; // [.., in]
        using (var dy2 = dY.ViewWith(new Shape(m, outF), [outF, 1], dY.Offset))
        using (var x2 = x.ViewWith(new Shape(m, inF), [inF, 1], x.Offset))
        using (var dx2 = dX?.ViewWith(new Shape(m, inF), [inF, 1], 0))
        using (var g = Tensor.Empty(new Shape(m, r), DType.F32, x.Device)) // [m, r] = s·dY·B
            backend.LoraBackward(dy2, x2, a, b, h, _scale, g, dx2, dA, dB);
        Tensor? dBase = null;
        if (NeedsGrad(3))
        {
            dBase = Tensor.Empty(Inputs[3].Shape, DType.F32, dY.Device);
            backend.Copy(dY, dBase);
        }
        if (!NeedsGrad(1)) { dA.Dispose(); dA = null!; }
        if (!NeedsGrad(2)) { dB.Dispose(); dB = null!; }
        return [dX, dA, dB, dBase];
    }

    protected internal override void ReleaseSaved()
    {
        _h?.Dispose(); _h = null;
        if (_x is not null && !ReferenceEquals(_x, Inputs[0])) _x.Dispose();
        _x = null; _a = null; _b = null;
    }
}
