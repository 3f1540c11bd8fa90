namespace PureLlama.Kernels.Reference;

/// <summary>
/// Plain float64 matrix multiply, the reference for every matmul kernel (CPU and GPU):
/// C[i, j] = Σ_p op(A)[i, p] · op(B)[p, j], with op(A)[i, p] = transA ? A[p·lda + i] : A[i·lda + p]
/// and op(B)[p, j] = transB ? B[j·ldb + p] : B[p·ldb + j]. Row-major, leading dimensions in elements.
/// </summary>
internal static class ReferenceMatmul
{
    /// <summary>Returns C as a dense row-major [m, n] array (leading dimension n).</summary>
    public static double[] Matmul(int m, int n, int k, double[] a, int lda, bool transA, double[] b, int ldb, bool transB)
    {
        var c = new double[(long)m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                    double y = transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                    s += x * y;
                }
                c[(long)i * n + j] = s;
            }
        return c;
    }

    /// <summary>Widens a float array to double.</summary>
    public static double[] ToDouble(float[] x) => Array.ConvertAll(x, v => (double)v);

    /// <summary>‖out − ref‖ / ‖ref‖ over a row-major [rows, cols] output with leading dimension ld.</summary>
    public static double RelativeError(float[] output, int ld, double[] reference, int rows, int cols)
    {
        double num = 0, den = 0;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                double r = reference[(long)i * cols + j], d = output[(long)i * ld + j] - r;
                num += d * d;
                den += r * r;
            }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }
}
