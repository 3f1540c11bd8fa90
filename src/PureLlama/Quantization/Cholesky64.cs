using System.Numerics.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// Float64 dense factorizations for GPTQ, on row-major [n, n] arrays, parallel over rows/columns with
/// SIMD dot products (TensorPrimitives).
/// </summary>
public static class Cholesky64
{
    /// <summary>
    /// Lower Cholesky factor L of a symmetric positive definite A (A = L·Lᵀ), read from A's lower triangle.
    /// Returns false when a pivot is not positive (A not positive definite).
    /// Right-looking by columns: L[j,j] = √(A[j,j] − ‖L[j,:j]‖²), L[i,j] = (A[i,j] − L[i,:j]·L[j,:j]) / L[j,j].
    /// </summary>
    public static bool TryFactor(double[] a, int n, out double[] l)
    {
        CheckSquare(a, n);
        l = new double[(long)n * n];
        var lower = l;
        for (int j = 0; j < n; j++)
        {
            var rowJ = lower.AsSpan(j * n, j);
            double d = a[(long)j * n + j] - TensorPrimitives.Dot<double>(rowJ, rowJ);
            if (!(d > 0)) return false;
            double ljj = Math.Sqrt(d);
            lower[(long)j * n + j] = ljj;
            int col = j;
            void Row(int i)
            {
                var ri = lower.AsSpan(i * n, col);
                lower[(long)i * n + col] = (a[(long)i * n + col] - TensorPrimitives.Dot<double>(ri, lower.AsSpan(col * n, col))) / ljj;
            }
            int rest = n - j - 1;
            if ((long)rest * j < 32_768) for (int i = j + 1; i < n; i++) Row(i);
            else Parallel.For(j + 1, n, Row);
        }
        return true;
    }

    /// <summary>
    /// X = L⁻¹ for a lower-triangular L (columns are independent: X[j,j] = 1/L[j,j],
    /// X[i,j] = −L[i, j:i]·X[j:i, j] / L[i,i]).
    /// </summary>
    public static double[] InvertLower(double[] l, int n)
    {
        CheckSquare(l, n);
        var x = new double[(long)n * n];
        Parallel.For(0, n, () => new double[n], (j, _, col) =>
        {
            col[j] = 1.0 / l[(long)j * n + j];
            for (int i = j + 1; i < n; i++)
                col[i] = -TensorPrimitives.Dot<double>(l.AsSpan(i * n + j, i - j), col.AsSpan(j, i - j)) / l[(long)i * n + i];
            for (int i = j; i < n; i++) x[(long)i * n + j] = col[i];
            return col;
        }, _ => { });
        return x;
    }

    /// <summary>
    /// The upper Cholesky factor U of A⁻¹ (A⁻¹ = Uᵀ·U), what GPTQ feeds its column updates, with one
    /// factorization and one triangular inverse: factor the index-reversed A = P·L·Lᵀ·P as A = V·Vᵀ with
    /// V = P·L·P upper; then A⁻¹ = V⁻ᵀ·V⁻¹ so U = V⁻¹ = P·L⁻¹·P. Returns false when A is not positive definite.
    /// </summary>
    public static bool TryInverseUpperFactor(double[] a, int n, out double[] u)
    {
        CheckSquare(a, n);
        var reversed = new double[a.Length];
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j < n; j++) reversed[(long)(n - 1 - i) * n + (n - 1 - j)] = a[(long)i * n + j];
        });
        u = Array.Empty<double>();
        if (!TryFactor(reversed, n, out var l)) return false;
        var linv = InvertLower(l, n);
        var result = new double[a.Length];
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j < n; j++) result[(long)i * n + j] = linv[(long)(n - 1 - i) * n + (n - 1 - j)];
        });
        u = result;
        return true;
    }

    private static void CheckSquare(double[] a, int n)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (n <= 0 || a.Length != (long)n * n) throw new ArgumentException($"Expected a [{n}, {n}] matrix, got {a.Length} elements.");
    }
}
