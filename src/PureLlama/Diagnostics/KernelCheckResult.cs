using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Diagnostics;

/// <summary>The outcome of one kernel check: errors against the float64 reference and the bound.</summary>
public sealed record KernelCheckResult(string Kernel, string Shape, double RelativeError, double MaxAbsError, double Tolerance, string? Failure)
{
    /// <summary>True when the output matched the reference within the tolerance.</summary>
    public bool Passed => Failure is null && Skipped is null && RelativeError <= Tolerance;

    /// <summary>Why the check did not run on this backend (the op is not implemented there yet), or null.</summary>
    public string? Skipped { get; init; }
}

/// <summary>One check: an op run on a backend against its float64 reference, outputs poisoned first.</summary>
public sealed record KernelCheck(string Kernel, string Shape, Func<IBackend, KernelCheckResult> Run)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Kernel} {Shape}";
}

/// <summary>Building blocks of the checks: device tensors from host data, poisoned outputs, comparison.</summary>
internal static class CheckIo
{
    public static Tensor Upload(IBackend be, float[] data, params int[] shape) => Tensor.FromSpan<float>(data, new Shape(shape), DType.F32, be.Device);
    public static Tensor Upload(IBackend be, int[] data, params int[] shape) => Tensor.FromSpan<int>(data, new Shape(shape), DType.I32, be.Device);
    public static Tensor UploadBf16(IBackend be, ushort[] data, params int[] shape) => Tensor.FromSpan<ushort>(data, new Shape(shape), DType.BF16, be.Device);

    /// <summary>An F32 output filled with NaN, so unwritten elements fail the comparison.</summary>
    public static Tensor Poisoned(IBackend be, params int[] shape)
    {
        var t = Tensor.Empty(new Shape(shape), DType.F32, be.Device);
        be.Fill(t, float.NaN);
        return t;
    }

    /// <summary>Relative L2 error (absolute when the reference is zero) and max abs error; NaN output fails.</summary>
    public static KernelCheckResult Compare(string kernel, string shape, Tensor output, double[] reference, double tolerance)
    {
        var got = output.ToFloatArray();
        return Compare(kernel, shape, got, reference, tolerance);
    }

    public static KernelCheckResult Compare(string kernel, string shape, float[] got, double[] reference, double tolerance)
    {
        if (got.Length != reference.Length)
            return new(kernel, shape, double.NaN, double.NaN, tolerance, $"output has {got.Length} elements, reference {reference.Length}");
        double num = 0, den = 0, maxAbs = 0;
        for (int i = 0; i < got.Length; i++)
        {
            if (!float.IsFinite(got[i]) && double.IsFinite(reference[i]))
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
}
