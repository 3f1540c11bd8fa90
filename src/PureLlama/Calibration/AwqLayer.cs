using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Calibration;

/// <summary>AWQ's per-input-channel scales of one decoder layer, one vector per shared input.</summary>
/// <param name="Qkv">s [hidden] of q/k/v (folded into input_layernorm).</param>
/// <param name="O">s [heads·headDim] of o_proj (folded into v_proj's rows), or null when v_proj's rows do not map one-to-one onto o_proj's inputs (GQA).</param>
/// <param name="Mlp">s [hidden] of gate/up (folded into post_attention_layernorm).</param>
/// <param name="Down">s [intermediate] of down_proj (folded into up_proj's rows).</param>
public sealed record AwqLayerScales(float[] Qkv, float[]? O, float[] Mlp, float[] Down);

/// <summary>
/// AWQ on one decoder layer: scale search per shared input, folding (W·diag s for the consumers, the
/// producer divided by s), clipping search on the scaled weights with the scaled inputs X/s (q_proj and
/// k_proj are not clipped, as AutoAWQ), and rounding. Folding alone leaves the layer's function unchanged.
/// </summary>
public static class AwqLayer
{
    /// <summary>
    /// Folds <paramref name="scales"/> into dense layer <paramref name="layer"/> of <paramref name="model"/> without quantizing:
    /// the model computes the same function (up to float rounding). Projections become F32 <see cref="Linear"/> layers.
    /// </summary>
    public static void Fold(LlamaModel model, int layer, AwqLayerScales scales)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scales);
        string p = $"model.layers.{layer}.";
        var w = Projections(model, layer);
        FoldHost(model, layer, w, scales);
        foreach (var (m, matrix) in w)
            model.ReplaceLinear(p + m, new Linear(Tensor.FromArray(matrix.Data, new Shape(matrix.Rows, matrix.Columns), model.Device))).Dispose();
    }

    /// <summary>Searches, folds, clips and quantizes layer <paramref name="layer"/>; fills <paramref name="quantized"/> by module.</summary>
    internal static void Run(LlamaModel model, int layer, Dictionary<string, HostMatrix> w, LayerStatistics stats, AwqOptions options, Dictionary<string, GroupQuantized> quantized)
    {
        var xQkv = stats.Activations(0);
        var xO = stats.Activations(1);
        var xMlp = stats.Activations(2);
        var xDown = stats.Activations(3);
        var sQkv = Awq.SearchScales(xQkv, [w["self_attn.q_proj"], w["self_attn.k_proj"], w["self_attn.v_proj"]], options).Scales;
        float[]? sO = w["self_attn.v_proj"].Rows == w["self_attn.o_proj"].Columns ? Awq.SearchScales(xO, [w["self_attn.o_proj"]], options).Scales : null;
        var sMlp = Awq.SearchScales(xMlp, [w["mlp.gate_proj"], w["mlp.up_proj"]], options).Scales;
        var sDown = Awq.SearchScales(xDown, [w["mlp.down_proj"]], options).Scales;
        var scales = new AwqLayerScales(sQkv, sO, sMlp, sDown);
        FoldHost(model, layer, w, scales);

        var inputs = new Dictionary<int, HostMatrix>
        {
            [0] = Awq.DivideColumns(xQkv, sQkv),
            [1] = sO is null ? xO : Awq.DivideColumns(xO, sO),
            [2] = Awq.DivideColumns(xMlp, sMlp),
            [3] = Awq.DivideColumns(xDown, sDown),
        };
        foreach (var (m, weight) in w)
        {
            if (m is not ("self_attn.q_proj" or "self_attn.k_proj"))
                Awq.ApplyClip(weight, Awq.SearchClip(inputs[LayerwiseQuantizer.SlotOf(m)], weight, options), options.Quant);
            quantized[m] = Rtn.Quantize(weight.Data, weight.Rows, weight.Columns, options.Quant);
        }
    }

    private static Dictionary<string, HostMatrix> Projections(LlamaModel model, int layer)
    {
        string p = $"model.layers.{layer}.";
        return model.NamedLinears().Where(x => x.Name.StartsWith(p, StringComparison.Ordinal))
            .ToDictionary(x => x.Name[p.Length..], x => LayerwiseQuantizer.Host(x.Linear));
    }

    // Scales the consumers' input columns, divides producers (norm weights in the model, v/up rows in w).
    private static void FoldHost(LlamaModel model, int layer, Dictionary<string, HostMatrix> w, AwqLayerScales s)
    {
        foreach (var m in new[] { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj" }) AwqFold.ScaleInputColumns(w[m], s.Qkv);
        DivideNorm(model, layer, postAttention: false, s.Qkv);
        if (s.O is not null)
        {
            AwqFold.ScaleInputColumns(w["self_attn.o_proj"], s.O);
            AwqFold.DivideOutputRows(w["self_attn.v_proj"], s.O);
        }
        foreach (var m in new[] { "mlp.gate_proj", "mlp.up_proj" }) AwqFold.ScaleInputColumns(w[m], s.Mlp);
        DivideNorm(model, layer, postAttention: true, s.Mlp);
        AwqFold.ScaleInputColumns(w["mlp.down_proj"], s.Down);
        AwqFold.DivideOutputRows(w["mlp.up_proj"], s.Down);
    }

    // norm weight g → g / s, as a new F32 norm layer (the old weight may be BF16 or a read-only mapping).
    private static void DivideNorm(LlamaModel model, int layer, bool postAttention, float[] s)
    {
        var l = model.Layers[layer];
        var norm = postAttention ? l.PostAttentionNorm : l.InputNorm;
        var g = norm.Weight.ToFloatArray();
        AwqFold.DivideNormWeight(g, s);
        var fresh = new RmsNormLayer(Tensor.FromArray(g, norm.Weight.Shape, model.Device), norm.Eps);
        model.ReplaceNorm(layer, postAttention, fresh).Dispose();
    }
}
