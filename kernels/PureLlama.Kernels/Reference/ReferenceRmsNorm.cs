namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference: RMSNorm. x, y: [rows, dim]; w: [dim]; rstd: [rows].
/// rstd[r] = 1/√(mean_c x[r,c]² + eps); y[r,c] = x[r,c]·rstd[r]·w[c].
/// </summary>
internal static class ReferenceRmsNorm
{
    /// <summary>Forward: returns (y, rstd).</summary>
    public static (double[] Y, double[] Rstd) Forward(float[] x, float[] w, int rows, int dim, double eps)
    {
        var y = new double[(long)rows * dim];
        var rstd = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double ss = 0;
            for (int c = 0; c < dim; c++) { double v = x[(long)r * dim + c]; ss += v * v; }
            double s = 1.0 / Math.Sqrt(ss / dim + eps);
            rstd[r] = s;
            for (int c = 0; c < dim; c++) y[(long)r * dim + c] = x[(long)r * dim + c] * s * w[c];
        }
        return (y, rstd);
    }

    /// <summary>
    /// Backward with g = dy·w: dx = rstd·g − x·rstd³·(Σ_c g·x)/dim; dw = dw0 + Σ_r dy·x·rstd.
    /// rstd is what the forward kernel stored (float), as the backward kernel sees it.
    /// </summary>
    public static (double[] Dx, double[] Dw) Backward(float[] dy, float[] x, float[] w, float[] rstd, float[] dw0, int rows, int dim)
    {
        var dx = new double[(long)rows * dim];
        var dw = new double[dim];
        for (int c = 0; c < dim; c++) dw[c] = dw0[c];
        for (int r = 0; r < rows; r++)
        {
            double s = rstd[r];
            double dot = 0;
            for (int c = 0; c < dim; c++) { long i = (long)r * dim + c; dot += (double)dy[i] * w[c] * x[i]; }
            for (int c = 0; c < dim; c++)
            {
                long i = (long)r * dim + c;
                double g = (double)dy[i] * w[c];
                dx[i] = s * g - x[i] * s * s * s * dot / dim;
                dw[c] += (double)dy[i] * x[i] * s;
            }
        }
        return (dx, dw);
    }
}
