namespace PureLlama.Kernels.Reference;

/// <summary>float64 reference: elementwise binary ops, scale, axpy, fill.</summary>
internal static class ReferenceElementwise
{
    /// <summary>y[i] = a[i·aStep] ∘ b[i·bStep]; steps are 0 (broadcast a scalar) or 1.</summary>
    public static double[] Binary(BinaryOp op, float[] a, int aStep, float[] b, int bStep, long n)
    {
        var y = new double[n];
        for (long i = 0; i < n; i++)
        {
            double x1 = a[i * aStep], x2 = b[i * bStep];
            y[i] = op switch
            {
                BinaryOp.Add => x1 + x2,
                BinaryOp.Sub => x1 - x2,
                BinaryOp.Mul => x1 * x2,
                BinaryOp.Div => x1 / x2,
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            };
        }
        return y;
    }

    /// <summary>y = α·x.</summary>
    public static double[] Scale(float[] x, double alpha)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = alpha * x[i];
        return y;
    }

    /// <summary>y + α·x (returns the new y).</summary>
    public static double[] Axpy(double alpha, float[] x, float[] y)
    {
        var r = new double[x.Length];
        for (int i = 0; i < x.Length; i++) r[i] = y[i] + alpha * x[i];
        return r;
    }

    /// <summary>n copies of v.</summary>
    public static double[] Fill(double v, long n)
    {
        var y = new double[n];
        for (long i = 0; i < n; i++) y[i] = v;
        return y;
    }
}
