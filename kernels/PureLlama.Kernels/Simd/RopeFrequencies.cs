namespace PureLlama.Kernels.Simd;

/// <summary>
/// Llama 3.1 RoPE frequency scaling (Hugging Face <c>rope_scaling.rope_type = "llama3"</c>).
/// </summary>
/// <param name="Factor">Divisor for low frequencies (8 for Llama 3.1).</param>
/// <param name="LowFreqFactor">Wavelengths above OriginalMaxPositionEmbeddings/LowFreqFactor are fully scaled (1).</param>
/// <param name="HighFreqFactor">Wavelengths below OriginalMaxPositionEmbeddings/HighFreqFactor are kept (4).</param>
/// <param name="OriginalMaxPositionEmbeddings">Pre-training context length (8192).</param>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings);

/// <summary>
/// RoPE inverse frequencies and cos/sin tables.
/// <code>
/// invFreq[i] = θ^(−2i/headDim),  i &lt; headDim/2
/// Llama 3.1 scaling, with wavelength λ = 2π/f, L = orig/lowFreqFactor, H = orig/highFreqFactor:
///   λ &lt; H → f                                   (high frequencies kept)
///   λ &gt; L → f/factor                            (low frequencies stretched)
///   else  → (1 − s)·f/factor + s·f,  s = (orig/λ − low)/(high − low)   (smooth blend)
/// cos[p, i] = cos(p·invFreq[i]),  sin[p, i] = sin(p·invFreq[i]);  tables: [maxPositions, headDim/2]
/// </code>
/// Frequencies and angles are computed in double and rounded once to float, so the tables stay
/// accurate at large positions (a float angle p·f loses ~p·2⁻²⁴ radians).
/// </summary>
internal static unsafe class RopeFrequencies
{
    /// <summary>Inverse frequencies [headDim/2], optionally with Llama 3.1 scaling.</summary>
    public static float[] InverseFrequencies(int headDim, double theta, Llama3RopeScaling? scaling)
    {
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentException($"RoPE head dimension must be positive and even, got {headDim}.", nameof(headDim));
        if (!(theta > 0)) throw new ArgumentException($"RoPE theta must be positive, got {theta}.", nameof(theta));
        if (scaling is not null && !(scaling.HighFreqFactor > scaling.LowFreqFactor && scaling.Factor > 0 && scaling.OriginalMaxPositionEmbeddings > 0))
            throw new ArgumentException($"Invalid llama3 rope scaling {scaling}: need factor > 0, high_freq_factor > low_freq_factor, original_max_position_embeddings > 0.", nameof(scaling));

        int h = headDim / 2;
        var inv = new float[h];
        for (int i = 0; i < h; i++)
        {
            double f = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            if (scaling is not null) f = Scale(f, scaling);
            inv[i] = (float)f;
        }
        return inv;
    }

    /// <summary>cos, sin: [maxPositions, invFreq.Length], angle p·invFreq[i] computed in double.</summary>
    public static void BuildTables(float[] invFreq, int maxPositions, float* cos, float* sin)
    {
        int h = invFreq.Length;
        ParallelWork.Rows(maxPositions, h * 8L, (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
                for (int i = 0; i < h; i++)
                {
                    double a = p * (double)invFreq[i];
                    cos[(long)p * h + i] = (float)Math.Cos(a);
                    sin[(long)p * h + i] = (float)Math.Sin(a);
                }
        });
    }

    private static double Scale(double f, Llama3RopeScaling s)
    {
        double orig = s.OriginalMaxPositionEmbeddings;
        double lowWavelen = orig / s.LowFreqFactor, highWavelen = orig / s.HighFreqFactor;
        double wavelen = 2 * Math.PI / f;
        if (wavelen < highWavelen) return f;
        if (wavelen > lowWavelen) return f / s.Factor;
        double smooth = (orig / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        return (1 - smooth) * f / s.Factor + smooth * f;
    }
}
