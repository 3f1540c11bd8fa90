namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference: rotary position embeddings, rotate-half (Hugging Face Llama) layout.
/// x, y: [tokens, heads, headDim]; cos/sin tables: [maxPos, headDim/2].
/// </summary>
internal static class ReferenceRope
{
    /// <summary>Plain RoPE inverse frequencies: inv[i] = theta^(−2i/headDim), i &lt; headDim/2.</summary>
    public static double[] InverseFrequencies(int headDim, double theta)
    {
        var inv = new double[headDim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
        return inv;
    }

    /// <summary>
    /// Llama 3.1 frequency scaling (HF rope_type "llama3"), written straight from the rule:
    /// wavelength λ = 2π/f; λ &lt; orig/high → f; λ &gt; orig/low → f/factor;
    /// otherwise s = (orig/λ − low)/(high − low), f' = (1 − s)·f/factor + s·f.
    /// </summary>
    public static double[] Llama3Scale(double[] inv, double factor, double low, double high, int orig)
    {
        var r = new double[inv.Length];
        for (int i = 0; i < inv.Length; i++)
        {
            double f = inv[i];
            double wavelen = 2 * Math.PI / f;
            if (wavelen < orig / high) r[i] = f;
            else if (wavelen > orig / low) r[i] = f / factor;
            else
            {
                double s = (orig / wavelen - low) / (high - low);
                r[i] = (1 - s) * f / factor + s * f;
            }
        }
        return r;
    }

    /// <summary>cos/sin tables [maxPos, inv.Length] of the angle pos·inv[i].</summary>
    public static (double[] Cos, double[] Sin) Tables(double[] inv, int maxPos)
    {
        int h = inv.Length;
        var cos = new double[(long)maxPos * h];
        var sin = new double[(long)maxPos * h];
        for (int p = 0; p < maxPos; p++)
            for (int i = 0; i < h; i++)
            {
                double a = p * inv[i];
                cos[(long)p * h + i] = Math.Cos(a);
                sin[(long)p * h + i] = Math.Sin(a);
            }
        return (cos, sin);
    }

    /// <summary>
    /// y_i = x_i cosθ − x_{i+h} sinθ, y_{i+h} = x_{i+h} cosθ + x_i sinθ with θ = table[pos[t], i];
    /// inverse rotates by −θ. cos/sin are the float tables the kernel is given.
    /// </summary>
    public static double[] Apply(float[] x, int tokens, int heads, int headDim, int[] positions, float[] cos, float[] sin, bool inverse)
    {
        int h = headDim / 2;
        var y = new double[x.Length];
        for (int t = 0; t < tokens; t++)
            for (int hd = 0; hd < heads; hd++)
            {
                long b = ((long)t * heads + hd) * headDim;
                for (int i = 0; i < h; i++)
                {
                    double c = cos[(long)positions[t] * h + i];
                    double s = sin[(long)positions[t] * h + i];
                    if (inverse) s = -s;
                    double x1 = x[b + i], x2 = x[b + i + h];
                    y[b + i] = x1 * c - x2 * s;
                    y[b + i + h] = x2 * c + x1 * s;
                }
            }
        return y;
    }
}
