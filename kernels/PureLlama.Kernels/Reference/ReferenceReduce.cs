namespace PureLlama.Kernels.Reference;

/// <summary>float64 reference: sums. x: [rows, cols] row-major.</summary>
internal static class ReferenceReduce
{
    /// <summary>Σ x.</summary>
    public static double Sum(float[] x, long n)
    {
        double s = 0;
        for (long i = 0; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>y[c] = (accumulate ? y0[c] : 0) + Σ_r x[r, c]. y: [cols].</summary>
    public static double[] SumOverRows(float[] x, int rows, int cols, float[]? y0)
    {
        var y = new double[cols];
        for (int c = 0; c < cols; c++)
        {
            double s = y0 is null ? 0 : y0[c];
            for (int r = 0; r < rows; r++) s += x[(long)r * cols + c];
            y[c] = s;
        }
        return y;
    }

    /// <summary>y[r] = (accumulate ? y0[r] : 0) + Σ_c x[r, c]. y: [rows].</summary>
    public static double[] SumOverCols(float[] x, int rows, int cols, float[]? y0)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = y0 is null ? 0 : y0[r];
            for (int c = 0; c < cols; c++) s += x[(long)r * cols + c];
            y[r] = s;
        }
        return y;
    }
}
