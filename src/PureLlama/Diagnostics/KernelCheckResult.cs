using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Diagnostics;

/// <summary>The outcome of one kernel check: errors against the float64 reference and the bound.</summary>
internal sealed record KernelCheckResult(string Kernel, string Shape, double RelativeError, double MaxAbsError, double Tolerance, string? Failure)
{
    /// <summary>True when the output matched the reference within the tolerance.</summary>
    public bool Passed => Failure is null && Skipped is null && RelativeError <= Tolerance;

    /// <summary>Why the check did not run on this backend (the op is not implemented there yet), or null.</summary>
    public string? Skipped { get; init; }
}

/// <summary>One check: an op run on a backend against its float64 reference, outputs poisoned first.</summary>
internal sealed record KernelCheck(string Kernel, string Shape, Func<IBackend, KernelCheckResult> Run)
{
    /// <summary>
    /// Runs the check and then verifies the sentinel guards placed after every output it allocated
    /// (<see cref="CheckIo.Poisoned"/>): a kernel that writes past the end of its output fails even when
    /// its in-range values are right.
    /// </summary>
    public KernelCheckResult Execute(IBackend backend)
    {
        using var guards = CheckIo.Guards.Begin();
        var result = Run(backend);
        return guards.Verify(result);
    }

    /// <summary>
    /// The performance mode: runs the check with a <see cref="CheckTiming"/> scope open, so each op it runs through
    /// <see cref="CheckIo.Timed"/> is timed. The result's numeric verdict is not meaningful (ops were repeated).
    /// </summary>
    public (KernelCheckResult Result, IReadOnlyList<OpTiming> Timings) Time(IBackend backend)
    {
        using var timing = CheckTiming.Begin();
        var result = Execute(backend);
        return (result, timing.Timings);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kernel} {Shape}";
}

/// <summary>Building blocks of the checks: device tensors from host data, poisoned outputs, comparison.</summary>
internal static class CheckIo
{
    public static Tensor Upload(IBackend be, float[] data, params int[] shape) => Tensor.FromSpan<float>(data, new Shape(shape), DType.F32, be.Device);
    public static Tensor Upload(IBackend be, int[] data, params int[] shape) => Tensor.FromSpan<int>(data, new Shape(shape), DType.I32, be.Device);
    public static Tensor UploadBf16(IBackend be, ushort[] data, params int[] shape) => Tensor.FromSpan<ushort>(data, new Shape(shape), DType.BF16, be.Device);

    /// <summary>
    /// An F32 output filled with NaN, so unwritten elements fail the comparison, followed in its storage by
    /// <see cref="Guards.Length"/> sentinel elements that <see cref="KernelCheck.Execute"/> verifies afterwards.
    /// </summary>
    public static Tensor Poisoned(IBackend be, params int[] shape)
    {
        int n = 1;
        foreach (int d in shape) n *= d;
        using var whole = Tensor.Empty(new Shape(n + Guards.Length), DType.F32, be.Device);
        be.Fill(whole, float.NaN);
        var guard = whole.Slice(0, n, Guards.Length);
        be.Fill(guard, Guards.Sentinel);
        Guards.Track(guard);
        using var body = whole.Slice(0, 0, n);
        return body.Reshape(shape);
    }

    /// <summary>Relative L2 error (absolute when the reference is zero) and max abs error; NaN output fails.</summary>
    public static KernelCheckResult Compare(string kernel, string shape, Tensor output, double[] reference, double tolerance)
    {
        var got = output.ToFloatArray();
        return Compare(kernel, shape, got, reference, tolerance);
    }

    /// <summary>
    /// ‖got − ref‖₂ / ‖ref‖₂ over the finite reference elements (absolute when the reference is zero) and the
    /// max abs error. An output element that is non-finite where the reference is finite (unwritten, poisoned,
    /// overflowed) fails, and so does a non-finite reference element the output does not reproduce.
    /// </summary>
    public static KernelCheckResult Compare(string kernel, string shape, ReadOnlySpan<float> got, ReadOnlySpan<double> reference, double tolerance)
    {
        if (got.Length != reference.Length)
            return new(kernel, shape, double.NaN, double.NaN, tolerance, $"output has {got.Length} elements, reference {reference.Length}");
        double num = 0, den = 0, maxAbs = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (!double.IsFinite(reference[i]))
            {
                bool same = double.IsNaN(reference[i]) ? float.IsNaN(got[i]) : got[i] == reference[i];
                if (!same) return new(kernel, shape, double.PositiveInfinity, double.PositiveInfinity, tolerance, $"element {i} is {got[i]}, reference {reference[i]}");
                continue;
            }
            if (!float.IsFinite(got[i]))
                return new(kernel, shape, double.PositiveInfinity, double.PositiveInfinity, tolerance, $"element {i} is {got[i]} (unwritten or overflowed), reference {reference[i]:G6}");
            double d = got[i] - reference[i];
            num += d * d; den += reference[i] * reference[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }
        double rel = den > 0 ? Math.Sqrt(num / den) : Math.Sqrt(num);
        return new(kernel, shape, rel, maxAbs, tolerance, null);
    }

    /// <summary>Keeps the worse of several results of one check (e.g. dx and dw of a backward).</summary>
    public static KernelCheckResult Worst(params KernelCheckResult[] results)
    {
        var failed = results.FirstOrDefault(r => r.Failure is not null);
        if (failed is not null) return failed;
        return results.OrderByDescending(r => r.RelativeError / r.Tolerance).First();
    }

    public static double[] ToDouble(float[] x) => Array.ConvertAll(x, v => (double)v);

    /// <summary>Runs the op under check once; in the performance mode it is then timed (<see cref="CheckTiming"/>).</summary>
    public static void Timed(IBackend be, string label, OpWork work, Action op) => CheckTiming.Op(be, label, work, op);

    /// <summary>The sentinel elements after each poisoned output of the check running on this thread.</summary>
    internal sealed class Guards : IDisposable
    {
        /// <summary>Sentinel elements after each output.</summary>
        public const int Length = 16;

        /// <summary>A value no kernel computes by accident (a NaN with a payload would not survive every copy path).</summary>
        public const float Sentinel = -1.2345678e33f;

        [ThreadStatic] private static Guards? t_current;
        private readonly List<Tensor> _guards = [];
        private readonly Guards? _outer;

        private Guards(Guards? outer) => _outer = outer;

        public static Guards Begin() => t_current = new Guards(t_current);

        public static void Track(Tensor guard)
        {
            if (t_current is { } g) g._guards.Add(guard);
            else guard.Dispose();   // outside Execute (e.g. a test calling Run directly): no verification
        }

        /// <summary><paramref name="result"/>, or a failure naming the first changed guard element.</summary>
        public KernelCheckResult Verify(KernelCheckResult result)
        {
            for (int k = 0; k < _guards.Count; k++)
            {
                var values = _guards[k].ToFloatArray();
                int bad = Array.FindIndex(values, v => BitConverter.SingleToInt32Bits(v) != BitConverter.SingleToInt32Bits(Sentinel));
                if (bad >= 0)
                    return result with { Failure = $"output #{k + 1} was written past its end (guard element {bad} is {values[bad]})" };
            }
            return result;
        }

        public void Dispose()
        {
            foreach (var g in _guards) g.Dispose();
            t_current = _outer;
        }
    }
}
