namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 special functions for the references (.NET has no erf):
/// <code>
/// |x| ≤ 3: erf(x) = 2/√π · Σₙ (−1)ⁿ x^(2n+1) / (n!(2n+1))           (Maclaurin series)
/// |x| > 3: erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …))))  (Laplace continued fraction)
/// </code>
/// Both are accurate to ~1e-14, far below the float32 errors they judge.
/// </summary>
internal static class ReferenceMath
{
    /// <summary>erf(x) in float64.</summary>
    public static double Erf(double x)
    {
        double a = Math.Abs(x);
        if (a > 3)
        {
            double frac = a;                      // evaluate the continued fraction bottom-up
            for (int k = 80; k >= 1; k--) frac = a + k / 2.0 / frac;
            double erfc = Math.Exp(-a * a) / Math.Sqrt(Math.PI) / frac;
            return Math.CopySign(1 - erfc, x);
        }
        double term = x, sum = x;
        for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
        {
            term *= -x * x / n;
            sum += term / (2 * n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}
