using PureLlama.Kernels.Simd;

namespace PureLlama.Llama;

/// <summary>
/// llama3 RoPE scaling recovered from a GGUF file's <c>rope_freqs.weight</c> (the per-frequency divisors f_i that
/// convert_hf_to_gguf computed from config.json's rope_scaling). With λ_i = 2π/θ^(−2i/d):
///
///   f_i = 1 (λ_i &lt; orig/high),  factor (λ_i &gt; orig/low),  else 1/((1 − s_i)/factor + s_i), s_i = (orig/λ_i − low)/(high − low)
///
/// factor is the largest f_i; the smooth s_i are linear in 1/λ_i (s = A/λ − B, A = orig/(high − low), B = low/(high − low)),
/// and (orig, low, high) scaled together give the same f, so low = 1 is chosen (Llama 3.1's value): high = 1 + 1/B,
/// orig = A/B. The result is checked by recomputing every f_i; a table that is not llama3 scaling is refused.
/// </summary>
internal static class GgufRopeScaling
{
    /// <summary>The scaling of <paramref name="factors"/>, or null when every factor is 1.</summary>
    /// <exception cref="InvalidDataException">The factors are not llama3 scaling's (named with <paramref name="source"/>).</exception>
    public static Llama3RopeScaling? Recover(IReadOnlyList<float> factors, double ropeTheta, int headDim, string source)
    {
        if (factors.Count != headDim / 2)
            throw Bad(source, $"has {factors.Count} values; head_dim/2 = {headDim / 2} were expected");
        double factor = factors.Max();
        if (factors.All(f => f == 1f)) return null;
        if (!(factor > 1) || factors.Any(f => !(f >= 1f)))
            throw Bad(source, "holds a value below 1 or not finite; llama3 scaling divides frequencies by factors ≥ 1");
        var smooth = new List<(double InvWavelength, double S)>();
        for (int i = 0; i < factors.Count; i++)
        {
            double f = factors[i];
            if (f <= 1.0001 || f >= factor * 0.9999) continue;
            double freq = 1f / MathF.Pow((float)ropeTheta, 2f * i / headDim);
            smooth.Add((freq / (2 * Math.PI), (1 / f - 1 / factor) / (1 - 1 / factor)));
        }
        Llama3RopeScaling? scaling = null;
        if (smooth.Count >= 2)
        {
            var (x0, s0) = smooth[0];
            var (x1, s1) = smooth[^1];
            double a = (s1 - s0) / (x1 - x0), b = a * x0 - s0;
            if (a > 0 && b > 0) scaling = new Llama3RopeScaling(factor, 1, Tidy(1 + 1 / b), (int)Math.Round(a / b));
        }
        // Too few smooth values to fit: Llama 3.1's boundaries, if they reproduce the table.
        scaling ??= new Llama3RopeScaling(factor, 1, 4, 8192);
        var again = GgufExporter.Llama3RopeFactors(scaling, ropeTheta, headDim);
        for (int i = 0; i < again.Length; i++)
            if (Math.Abs(again[i] - factors[i]) > 1e-4 * factors[i])
                throw Bad(source, $"is not llama3 RoPE scaling: the best fit (factor {factor}, low_freq_factor 1, high_freq_factor {scaling.HighFreqFactor:G6}, "
                    + $"original_max_position_embeddings {scaling.OriginalMaxPositionEmbeddings}) gives {again[i]} at frequency {i}, the file {factors[i]}");
        return scaling;
    }

    // The fit's noise (the factors are F32) removed where the value is within 1e-5 of a number with 3 decimals (3.9999987 → 4).
    private static double Tidy(double v) => Math.Abs(v - Math.Round(v, 3)) < 1e-5 * Math.Abs(v) ? Math.Round(v, 3) : v;

    private static InvalidDataException Bad(string source, string what) => new($"GGUF file '{source}': tensor 'rope_freqs.weight' {what}.");
}
