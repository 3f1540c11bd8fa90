using System.Globalization;
using System.Text;

namespace PureLlama.Kernels.Tests.Harness;

/// <summary>
/// Compares a kernel's output against a float64 reference by relative error
/// ‖out − ref‖₂ / ‖ref‖₂ (absolute ‖out − ref‖₂ when the reference is all zero).
/// A non-finite output where the reference is finite fails immediately (that is how poisoned,
/// unwritten elements are caught). Failure messages name the worst element and its neighbours.
/// </summary>
public static class ErrorAssert
{
    /// <summary>Relative error of <paramref name="actual"/> against <paramref name="expected"/>.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }
        return den > 0 ? Math.Sqrt(num / den) : Math.Sqrt(num);
    }

    /// <summary>Asserts relative error ≤ <paramref name="tolerance"/>.</summary>
    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double tolerance, string what)
    {
        if (actual.Length != expected.Length)
            throw new Xunit.Sdk.XunitException($"{what}: length {actual.Length}, expected {expected.Length}");

        int worst = -1;
        double worstAbs = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            bool refFinite = double.IsFinite(expected[i]);
            if (refFinite != float.IsFinite(actual[i]) || (!refFinite && !SameNonFinite(actual[i], expected[i])))
                throw new Xunit.Sdk.XunitException($"{what}: element {i} is {Fmt(actual[i])} but the reference is {Fmt(expected[i])} (unwritten or overflowed?)\n{Neighbourhood(actual, expected, i)}");
            if (!refFinite) continue;
            double abs = Math.Abs(actual[i] - expected[i]);
            if (abs > worstAbs) { worstAbs = abs; worst = i; }
        }

        double rel = RelativeErrorFinite(actual, expected);
        if (!(rel <= tolerance))
        {
            throw new Xunit.Sdk.XunitException(
                $"{what}: relative error {rel:E3} > {tolerance:E1} (n = {expected.Length}); max abs error {worstAbs:E3} at index {worst}\n"
                + Neighbourhood(actual, expected, worst));
        }
    }

    /// <summary>Asserts relative error ≤ <paramref name="tolerance"/> against a float reference (for kernel-vs-kernel checks).</summary>
    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        Close(actual, e, tolerance, what);
    }

    /// <summary>Asserts a scalar is within relative <paramref name="tolerance"/> of <paramref name="expected"/>.</summary>
    public static void Close(float actual, double expected, double tolerance, string what) =>
        Close(new[] { actual }, new[] { expected }, tolerance, what);

    /// <summary>Asserts two bit arrays (bf16/f16 codes) are identical, naming the first difference.</summary>
    public static void BitsEqual(ReadOnlySpan<ushort> actual, ReadOnlySpan<ushort> expected, string what)
    {
        if (actual.Length != expected.Length)
            throw new Xunit.Sdk.XunitException($"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i])
                throw new Xunit.Sdk.XunitException($"{what}: element {i} is 0x{actual[i]:X4}, expected 0x{expected[i]:X4}");
    }

    /// <summary>Asserts two float arrays are bitwise identical (NaN payloads included), naming the first difference.</summary>
    public static void BitsEqual(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what)
    {
        if (actual.Length != expected.Length)
            throw new Xunit.Sdk.XunitException($"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToUInt32Bits(actual[i]) != BitConverter.SingleToUInt32Bits(expected[i]))
                throw new Xunit.Sdk.XunitException($"{what}: element {i} is {Fmt(actual[i])} (0x{BitConverter.SingleToUInt32Bits(actual[i]):X8}), expected {Fmt(expected[i])} (0x{BitConverter.SingleToUInt32Bits(expected[i]):X8})");
    }

    private static double RelativeErrorFinite(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!double.IsFinite(expected[i])) continue;
            double d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }
        return den > 0 ? Math.Sqrt(num / den) : Math.Sqrt(num);
    }

    private static bool SameNonFinite(float a, double e) =>
        (double.IsNaN(e) && float.IsNaN(a)) || (double.IsInfinity(e) && a == e);

    private static string Neighbourhood(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, int at)
    {
        var sb = new StringBuilder();
        for (int i = Math.Max(0, at - 2); i <= Math.Min(expected.Length - 1, at + 2); i++)
            sb.Append(CultureInfo.InvariantCulture, $"  [{i}] out {Fmt(actual[i])}  ref {Fmt(expected[i])}{(i == at ? "   <==" : "")}\n");
        return sb.ToString();
    }

    private static string Fmt(double v) => v.ToString("G9", CultureInfo.InvariantCulture);
}
