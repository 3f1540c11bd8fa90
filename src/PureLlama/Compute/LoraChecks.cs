using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>Shape and dtype validation of the LoRA ops, shared by every backend.</summary>
internal static class LoraChecks
{
    /// <summary>Validates x [m, in], a [r, in], b [out, r], h [m, r], y [m, out]; returns (m, in, out, r).</summary>
    public static (int M, int In, int Out, int R) Forward(IBackend be, Tensor x, Tensor a, Tensor b, Tensor h, Tensor y)
    {
        Check.F32(be, x, nameof(x));
        Check.F32(be, a, "A");
        Check.F32(be, b, "B");
        Check.F32Out(be, h, nameof(h));
        Check.F32Out(be, y, nameof(y));
        if (x.Rank != 2 || a.Rank != 2 || b.Rank != 2)
            throw new ArgumentException($"LoRA: x {x.Describe()}, A {a.Describe()} and B {b.Describe()} must be matrices [m, in], [r, in], [out, r].");
        int m = x.Shape[0], inF = x.Shape[1], r = a.Shape[0], outF = b.Shape[0];
        if (r < 1) throw new ArgumentException($"LoRA: A {a.Describe()} has rank 0.");
        Check.Shape(a, new Shape(r, inF), "A");
        Check.Shape(b, new Shape(outF, r), "B");
        Check.Shape(h, new Shape(m, r), nameof(h));
        Check.Shape(y, new Shape(m, outF), nameof(y));
        return (m, inF, outF, r);
    }

    /// <summary>Validates the backward's tensors against the forward's shapes; returns (m, in, out, r).</summary>
    public static (int M, int In, int Out, int R) Backward(IBackend be, Tensor dy, Tensor x, Tensor a, Tensor b, Tensor h, Tensor g, Tensor? dx, Tensor dA, Tensor dB)
    {
        var (m, inF, outF, r) = Forward(be, x, a, b, g, dy);
        Check.F32(be, dy, nameof(dy));
        Check.F32(be, h, nameof(h));
        Check.Shape(h, new Shape(m, r), nameof(h));
        if (dx is not null) { Check.F32Out(be, dx, nameof(dx)); Check.Shape(dx, new Shape(m, inF), nameof(dx)); }
        Check.F32Out(be, dA, nameof(dA));
        Check.Shape(dA, new Shape(r, inF), nameof(dA));
        Check.F32Out(be, dB, nameof(dB));
        Check.Shape(dB, new Shape(outF, r), nameof(dB));
        return (m, inF, outF, r);
    }
}
