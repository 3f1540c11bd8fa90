namespace PureLlama.Quantization;

/// <summary>
/// Folding AWQ's scales s [in] so the unquantized function is unchanged: the consumer's input columns are
/// multiplied by s (W·diag s) and the producer of its input divided by s — an RMSNorm weight
/// (g / s: q/k/v after input_layernorm, gate/up after post_attention_layernorm) or the output rows of a
/// preceding linear (v_proj rows for o_proj, up_proj rows for down_proj).
/// </summary>
public static class AwqFold
{
    /// <summary>W [out, in]: W[:, c] *= s[c].</summary>
    public static void ScaleInputColumns(HostMatrix weight, ReadOnlySpan<float> s)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (s.Length != weight.Columns) throw new ArgumentException($"{s.Length} scales for a weight of {weight.Columns} input columns.", nameof(s));
        for (int o = 0; o < weight.Rows; o++)
            for (int c = 0; c < weight.Columns; c++) weight.Data[(long)o * weight.Columns + c] *= s[c];
    }

    /// <summary>RMSNorm weight g [in]: g[c] /= s[c].</summary>
    public static void DivideNormWeight(Span<float> normWeight, ReadOnlySpan<float> s)
    {
        if (s.Length != normWeight.Length) throw new ArgumentException($"{s.Length} scales for a norm weight of {normWeight.Length} elements.", nameof(s));
        for (int c = 0; c < s.Length; c++) normWeight[c] /= s[c];
    }

    /// <summary>Preceding linear W_prev [in, k] (and its bias [in], if any): row c divided by s[c].</summary>
    public static void DivideOutputRows(HostMatrix previous, ReadOnlySpan<float> s, Span<float> bias = default)
    {
        ArgumentNullException.ThrowIfNull(previous);
        if (s.Length != previous.Rows) throw new ArgumentException($"{s.Length} scales for a preceding linear of {previous.Rows} output rows.", nameof(s));
        if (!bias.IsEmpty && bias.Length != s.Length) throw new ArgumentException($"Bias has {bias.Length} elements, expected {s.Length}.", nameof(bias));
        for (int r = 0; r < previous.Rows; r++)
        {
            for (int c = 0; c < previous.Columns; c++) previous.Data[(long)r * previous.Columns + c] /= s[r];
            if (!bias.IsEmpty) bias[r] /= s[r];
        }
    }
}
