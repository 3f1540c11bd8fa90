using PureLlama.Kernels.Blocks;

namespace PureLlama.Llama;

/// <summary>What <c>purellama export-gguf --type</c> writes: one type for every matrix, or llama.cpp's Q4_K_M mix.</summary>
public enum GgufExportType
{
    /// <summary>Matrices in float32.</summary>
    F32,
    /// <summary>Matrices in float16 (round to nearest even), as convert_hf_to_gguf --outtype f16.</summary>
    F16,
    /// <summary>Matrices in bfloat16, as convert_hf_to_gguf --outtype bf16.</summary>
    BF16,
    /// <summary>llama-quantize Q8_0.</summary>
    Q8_0,
    /// <summary>llama-quantize Q4_0 (the output matrix in Q6_K).</summary>
    Q4_0,
    /// <summary>llama-quantize Q4_K_M: Q4_K, with Q6_K for the output matrix and some layers' attn_v and ffn_down.</summary>
    Q4_K_M,
}

/// <summary>
/// Which ggml type each tensor gets, as llama.cpp's llama-quantize chooses it (llama_tensor_get_type, no
/// importance matrix, models under 70B):
/// <list type="bullet">
/// <item>1-D tensors (norms, rope_freqs) stay F32.</item>
/// <item>The output matrix (output.weight, or token_embd.weight when the embeddings are tied) gets Q6_K,
/// unless the target is Q8_0 (Q8_0) or a float type.</item>
/// <item>Q4_K_M: attn_v and ffn_down get Q6_K in layer i of n when i &lt; n/8, i ≥ 7n/8 or (i − n/8) mod 3 = 2.</item>
/// <item>A row length that is not a whole number of blocks falls back: Q6_K → Q8_0, Q4_K → Q8_0 (llama.cpp takes
/// Q5_0, which PureLlama does not write), then F16 when still not whole 32-blocks.</item>
/// </list>
/// </summary>
internal static class GgufQuantMix
{
    /// <summary>general.file_type (LLAMA_FTYPE_*) of an export.</summary>
    public static uint FileType(GgufExportType type) => type switch
    {
        GgufExportType.F32 => 0,
        GgufExportType.F16 => 1,
        GgufExportType.Q4_0 => 2,
        GgufExportType.Q8_0 => 7,
        GgufExportType.Q4_K_M => 15,
        GgufExportType.BF16 => 32,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>The type of GGUF tensor <paramref name="name"/> with ggml dims <paramref name="dims"/> in a model of <paramref name="layers"/> layers.</summary>
    public static GgmlType Choose(GgufExportType target, string name, long[] dims, int layers, bool tied)
    {
        if (dims.Length == 1) return GgmlType.F32;
        GgmlType wanted = target switch
        {
            GgufExportType.F32 => GgmlType.F32,
            GgufExportType.F16 => GgmlType.F16,
            GgufExportType.BF16 => GgmlType.BF16,
            GgufExportType.Q8_0 => GgmlType.Q8_0,
            GgufExportType.Q4_0 => GgmlType.Q4_0,
            _ => GgmlType.Q4_K,
        };
        if (wanted is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) return wanted;
        bool isOutput = name == "output.weight" || (tied && name == "token_embd.weight");
        if (isOutput && wanted != GgmlType.Q8_0) wanted = GgmlType.Q6_K;
        else if (target == GgufExportType.Q4_K_M && (name.EndsWith(".attn_v.weight", StringComparison.Ordinal) || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal))
                 && LayerOf(name) is int i && UseMoreBits(i, layers))
            wanted = GgmlType.Q6_K;
        long rowLength = dims[0];
        if (rowLength % BlockFormats.BlockValues(wanted) != 0)
            wanted = GgmlType.Q8_0;
        return rowLength % BlockFormats.BlockValues(wanted) == 0 ? wanted : GgmlType.F16;
    }

    // llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between.
    private static bool UseMoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;

    private static int? LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return null;
        int dot = name.IndexOf('.', 4);
        return dot > 4 && int.TryParse(name.AsSpan(4, dot - 4), out int i) ? i : null;
    }
}
