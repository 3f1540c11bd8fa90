using System.Globalization;
using System.Text;
using PureLlama.Diagnostics;

namespace PureLlama.Kernels.Tests.Harness;

/// <summary>
/// Assertions over raw kernel outputs for the tests that call kernels directly (shapes and layouts beyond
/// <see cref="KernelChecks"/>). The comparison itself is KernelChecks' (<see cref="CheckIo.Compare(string, string, ReadOnlySpan{float}, ReadOnlySpan{double}, double)"/>):
/// relative L2 error against a float64 reference, non-finite outputs fail; this adds the neighbourhood of the worst element.
/// </summary>
public static class ErrorAssert
{
    /// <summary>Relative error of <paramref name="actual"/> against <paramref name="expected"/>.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected) =>
        CheckIo.Compare("", "", actual, expected, double.PositiveInfinity).RelativeError;

    /// <summary>Asserts relative error ≤ <paramref name="tolerance"/>.</summary>
    public static void Close(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double tolerance, string what)
    {
        var r = CheckIo.Compare(what, "", actual, expected, tolerance);
        if (r.Passed) return;
        int worst = 0;
        for (int i = 0; i < Math.Min(actual.Length, expected.Length); i++)
            if (!(Math.Abs(actual[i] - expected[i]) <= Math.Abs(actual[worst] - expected[worst]))) worst = i;
        string why = r.Failure ?? $"relative error {r.RelativeError:E3} > {tolerance:E1} (n = {expected.Length}); max abs error {r.MaxAbsError:E3}";
        throw new Xunit.Sdk.XunitException($"{what}: {why}\n{Neighbourhood(actual, expected, worst)}");
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
                throw new Xunit.Sdk.XunitException($"{what}: element {i} is {Fmt(actual[i])} (0x{BitConverter.SingleToUInt32Bits(actual[i]):X8}), " +
                    $"expected {Fmt(expected[i])} (0x{BitConverter.SingleToUInt32Bits(expected[i]):X8})");
    }

    private static string Neighbourhood(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, int at)
    {
        var sb = new StringBuilder();
        for (int i = Math.Max(0, at - 2); i <= Math.Min(Math.Min(actual.Length, expected.Length) - 1, at + 2); i++)
            sb.Append(CultureInfo.InvariantCulture, $"  [{i}] out {Fmt(actual[i])}  ref {Fmt(expected[i])}{(i == at ? "   <==" : "")}\n");
        return sb.ToString();
    }

    private static string Fmt(double v) => v.ToString("G9", CultureInfo.InvariantCulture);
}
