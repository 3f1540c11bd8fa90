using PureLlama.Tensors;

namespace PureLlama.Autograd;

/// <summary>The worst disagreement found by <see cref="GradCheck"/>.</summary>
public sealed record GradCheckResult(int Input, long Element, double Analytic, double Numeric, double RelativeError)
{
    /// <inheritdoc/>
    public override string ToString() => $"input {Input} element {Element}: analytic {Analytic:G6}, numeric {Numeric:G6}, relative error {RelativeError:G3}";
}

/// <summary>
/// Finite-difference gradient check: for L = Σ f(inputs)·R with a fixed random R, compares each
/// analytic ∂L/∂x from the tape with the central difference (L(x+h) − L(x−h)) / 2h, L summed in
/// float64 on the host. Inputs must be F32 leaves that require grad.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Returns the worst element (by |analytic − numeric| / max(1, |numeric|)) over at most
    /// <paramref name="maxElementsPerInput"/> elements per input (all when fewer).
    /// </summary>
    public static GradCheckResult Run(Func<Tensor[], Tensor> f, Tensor[] inputs, double h = 1e-2, int maxElementsPerInput = 64, ulong seed = 7)
    {
        var rng = new Rng(seed);
        float[] projection;
        using (GradMode.NoGrad())
        using (var probe = f(inputs))
        {
            projection = new float[probe.Numel];
            rng.FillUniform(projection, -1, 1);
        }
        foreach (var x in inputs) { x.Grad?.Dispose(); x.Grad = null; }

        // Analytic gradients through the tape.
        using (var y = f(inputs))
        using (var r = Tensor.FromSpan<float>(projection, y.Shape, DType.F32, y.Device))
        using (var prod = Ops.Mul(y, r))
        using (var loss = Ops.Sum(prod))
            loss.Backward();

        GradCheckResult worst = new(-1, -1, 0, 0, 0);
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            if (!x.RequiresGrad) continue;
            var analytic = x.Grad?.ToArray<float>() ?? new float[x.Numel];
            var values = x.ToArray<float>();
            var picks = Pick(values.Length, maxElementsPerInput, rng);
            foreach (var e in picks)
            {
                float original = values[e];
                values[e] = original + (float)h;
                double plus = Loss(f, inputs, x, values, projection);
                values[e] = original - (float)h;
                double minus = Loss(f, inputs, x, values, projection);
                values[e] = original;
                Write(x, values);
                double numeric = (plus - minus) / (2 * h);
                double err = Math.Abs(analytic[e] - numeric) / Math.Max(1.0, Math.Abs(numeric));
                if (err > worst.RelativeError || worst.Input < 0) worst = new(i, e, analytic[e], numeric, err);
            }
        }
        return worst;
    }

    private static double Loss(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor x, float[] values, float[] projection)
    {
        Write(x, values);
        using var _ = GradMode.NoGrad();
        using var y = f(inputs);
        var out_ = y.ToArray<float>();
        double s = 0;
        for (int j = 0; j < out_.Length; j++) s += (double)out_[j] * projection[j];
        return s;
    }

    private static void Write(Tensor x, float[] values) =>
        x.Backend.CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()), x);

    private static IEnumerable<int> Pick(int n, int max, Rng rng)
    {
        if (n <= max) return Enumerable.Range(0, n);
        var set = new SortedSet<int>();
        while (set.Count < max) set.Add(rng.NextInt(n));
        return set;
    }
}
