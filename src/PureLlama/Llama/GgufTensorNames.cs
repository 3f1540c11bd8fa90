namespace PureLlama.Llama;

/// <summary>
/// Hugging Face tensor names ↔ llama.cpp's GGUF names for Llama (<c>model.layers.3.self_attn.q_proj.weight</c> ↔
/// <c>blk.3.attn_q.weight</c>), the mapping convert_hf_to_gguf applies.
/// </summary>
internal static class GgufTensorNames
{
    private static readonly (string Hf, string Gguf)[] s_layer =
    [
        ("input_layernorm", "attn_norm"), ("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"), ("self_attn.o_proj", "attn_output"), ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"), ("mlp.down_proj", "ffn_down"),
    ];

    /// <summary>The GGUF name of a Hugging Face tensor or module name (a trailing ".weight" is kept); null when it has none.</summary>
    public static string? ToGguf(string hf)
    {
        string suffix = hf.EndsWith(".weight", StringComparison.Ordinal) ? ".weight" : "";
        string stem = hf[..^suffix.Length];
        switch (stem)
        {
            case "model.embed_tokens": return "token_embd" + suffix;
            case "model.norm": return "output_norm" + suffix;
            case "lm_head": return "output" + suffix;
        }
        const string prefix = "model.layers.";
        if (!stem.StartsWith(prefix, StringComparison.Ordinal)) return null;
        int dot = stem.IndexOf('.', prefix.Length);
        if (dot < 0 || !int.TryParse(stem.AsSpan(prefix.Length, dot - prefix.Length), out int layer)) return null;
        string rest = stem[(dot + 1)..];
        foreach (var (h, g) in s_layer)
            if (rest == h) return $"blk.{layer}.{g}{suffix}";
        return null;
    }

    /// <summary>The Hugging Face name of a GGUF tensor name, or null.</summary>
    public static string? ToHf(string gguf)
    {
        string suffix = gguf.EndsWith(".weight", StringComparison.Ordinal) ? ".weight" : "";
        string stem = gguf[..^suffix.Length];
        switch (stem)
        {
            case "token_embd": return "model.embed_tokens" + suffix;
            case "output_norm": return "model.norm" + suffix;
            case "output": return "lm_head" + suffix;
        }
        if (!stem.StartsWith("blk.", StringComparison.Ordinal)) return null;
        int dot = stem.IndexOf('.', 4);
        if (dot < 0 || !int.TryParse(stem.AsSpan(4, dot - 4), out int layer)) return null;
        string rest = stem[(dot + 1)..];
        foreach (var (h, g) in s_layer)
            if (rest == g) return $"model.layers.{layer}.{h}{suffix}";
        return null;
    }

    /// <summary>True for the query/key projections, whose rows llama.cpp stores in its RoPE pair order.</summary>
    public static bool IsRopePermuted(string hf, out bool isKey)
    {
        isKey = hf.Contains(".self_attn.k_proj", StringComparison.Ordinal);
        return isKey || hf.Contains(".self_attn.q_proj", StringComparison.Ordinal);
    }
}
