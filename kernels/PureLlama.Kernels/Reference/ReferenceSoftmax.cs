namespace PureLlama.Kernels.Reference;

/// <summary>float64 reference: softmax over the last dim. x, y: [rows, cols].</summary>
internal static class ReferenceSoftmax
{
    /// <summary>y = exp(x − max)/Σ exp(x − max), per row.</summary>
    public static double[] Forward(float[] x, int rows, int cols)
    {
        var y = new double[(long)rows * cols];
        for (int r = 0; r < rows; r++)
        {
            long b = (long)r * cols;
            double m = double.NegativeInfinity;
            for (int c = 0; c < cols; c++) m = Math.Max(m, x[b + c]);
            double s = 0;
            for (int c = 0; c < cols; c++) { y[b + c] = Math.Exp(x[b + c] - m); s += y[b + c]; }
            for (int c = 0; c < cols; c++) y[b + c] /= s;
        }
        return y;
    }

    /// <summary>dx = y·(dy − Σ_c dy·y), per row (y is the forward output the kernel is given).</summary>
    public static double[] Backward(float[] y, float[] dy, int rows, int cols)
    {
        var dx = new double[(long)rows * cols];
        for (int r = 0; r < rows; r++)
        {
            long b = (long)r * cols;
            double dot = 0;
            for (int c = 0; c < cols; c++) dot += (double)dy[b + c] * y[b + c];
            for (int c = 0; c < cols; c++) dx[b + c] = y[b + c] * (dy[b + c] - dot);
        }
        return dx;
    }
}
