namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference: LoRA products. x: [m, in], A: [r, in], B: [out, r], y0/dy: [m, out].
/// forward: h = s·x·Aᵀ [m, r], y = y0 + h·Bᵀ; backward: g = s·dy·B [m, r], dx = g·A [m, in],
/// dA = gᵀ·x [r, in], dB = dyᵀ·h [out, r] (h as the forward kernel stored it, in float).
/// </summary>
internal static class ReferenceLora
{
    /// <summary>Forward: returns (h, y).</summary>
    public static (double[] H, double[] Y) Forward(float[] x, float[] a, float[] b, float s, float[] y0, int m, int inF, int outF, int r)
    {
        var h = new double[(long)m * r];
        var y = new double[(long)m * outF];
        for (int i = 0; i < m; i++)
        {
            for (int k = 0; k < r; k++)
            {
                double acc = 0;
                for (int j = 0; j < inF; j++) acc += (double)x[(long)i * inF + j] * a[(long)k * inF + j];
                h[(long)i * r + k] = s * acc;
            }
            for (int o = 0; o < outF; o++)
            {
                double acc = y0[(long)i * outF + o];
                for (int k = 0; k < r; k++) acc += h[(long)i * r + k] * b[(long)o * r + k];
                y[(long)i * outF + o] = acc;
            }
        }
        return (h, y);
    }

    /// <summary>Backward: returns (g, dx, dA, dB).</summary>
    public static (double[] G, double[] Dx, double[] DA, double[] DB) Backward(float[] dy, float[] x, float[] a, float[] b, float[] h, float s,
        int m, int inF, int outF, int r)
    {
        var g = new double[(long)m * r];
        var dx = new double[(long)m * inF];
        var dA = new double[(long)r * inF];
        var dB = new double[(long)outF * r];
        for (int i = 0; i < m; i++)
            for (int k = 0; k < r; k++)
            {
                double acc = 0;
                for (int o = 0; o < outF; o++) acc += (double)dy[(long)i * outF + o] * b[(long)o * r + k];
                g[(long)i * r + k] = s * acc;
            }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < inF; j++)
            {
                double acc = 0;
                for (int k = 0; k < r; k++) acc += g[(long)i * r + k] * a[(long)k * inF + j];
                dx[(long)i * inF + j] = acc;
            }
        for (int k = 0; k < r; k++)
            for (int j = 0; j < inF; j++)
            {
                double acc = 0;
                for (int i = 0; i < m; i++) acc += g[(long)i * r + k] * x[(long)i * inF + j];
                dA[(long)k * inF + j] = acc;
            }
        for (int o = 0; o < outF; o++)
            for (int k = 0; k < r; k++)
            {
                double acc = 0;
                for (int i = 0; i < m; i++) acc += (double)dy[(long)i * outF + o] * h[(long)i * r + k];
                dB[(long)o * r + k] = acc;
            }
        return (g, dx, dA, dB);
    }
}
