namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference: one AdamW step (decoupled weight decay, bias-corrected moments), t ≥ 1:
/// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; m̂ = m/(1−β1ᵗ); v̂ = v/(1−β2ᵗ);
/// p −= lr·(wd·p + m̂/(√v̂ + ε)). State arrays are updated in place.
/// </summary>
internal static class ReferenceAdamW
{
    /// <summary>Updates p, m, v in place.</summary>
    public static void Step(double[] p, float[] g, double[] m, double[] v, double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        double c1 = 1 - Math.Pow(beta1, step), c2 = 1 - Math.Pow(beta2, step);
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * (double)g[i] * g[i];
            double mh = m[i] / c1, vh = v[i] / c2;
            p[i] -= lr * (weightDecay * p[i] + mh / (Math.Sqrt(vh) + eps));
        }
    }
}
