namespace PureLlama.Kernels.Reference;

/// <summary>float64 reference: SiLU and SwiGLU with their backwards. σ(x) = 1/(1 + e^−x).</summary>
public static class ReferenceActivations
{
    private static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <summary>y = x·σ(x).</summary>
    public static double[] Silu(float[] x)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * Sigmoid(x[i]);
        return y;
    }

    /// <summary>dx = dy·σ(x)·(1 + x·(1 − σ(x))).</summary>
    public static double[] SiluBackward(float[] x, float[] dy)
    {
        var dx = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double s = Sigmoid(x[i]);
            dx[i] = dy[i] * s * (1 + x[i] * (1 - s));
        }
        return dx;
    }

    /// <summary>y = silu(g)·u.</summary>
    public static double[] SwiGlu(float[] g, float[] u)
    {
        var y = new double[g.Length];
        for (int i = 0; i < g.Length; i++) y[i] = g[i] * Sigmoid(g[i]) * u[i];
        return y;
    }

    /// <summary>dg = dy·u·silu'(g), du = dy·silu(g).</summary>
    public static (double[] Dg, double[] Du) SwiGluBackward(float[] g, float[] u, float[] dy)
    {
        var dg = new double[g.Length];
        var du = new double[g.Length];
        for (int i = 0; i < g.Length; i++)
        {
            double s = Sigmoid(g[i]);
            dg[i] = dy[i] * u[i] * s * (1 + g[i] * (1 - s));
            du[i] = dy[i] * g[i] * s;
        }
        return (dg, du);
    }
}
