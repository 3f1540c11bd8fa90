using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// One decoder layer (pre-norm): x += attn(rms(x)); x += mlp(rms(x)). HF names under
/// <c>model.layers.{i}.</c>: input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
/// mlp.{gate,up,down}_proj.
/// </summary>
public sealed class LlamaLayer : IDisposable
{
    /// <summary>Builds the layer from its parts (ownership passes to the layer).</summary>
    public LlamaLayer(int index, RmsNormLayer inputNorm, LlamaAttention attention, RmsNormLayer postAttentionNorm, LlamaMlp mlp)
    {
        Index = index; InputNorm = inputNorm; Attention = attention; PostAttentionNorm = postAttentionNorm; Mlp = mlp;
    }

    /// <summary>Layer number (0-based).</summary>
    public int Index { get; }
    /// <summary>input_layernorm.</summary>
    public RmsNormLayer InputNorm { get; internal set; }
    /// <summary>self_attn.</summary>
    public LlamaAttention Attention { get; }
    /// <summary>post_attention_layernorm.</summary>
    public RmsNormLayer PostAttentionNorm { get; internal set; }
    /// <summary>mlp.</summary>
    public LlamaMlp Mlp { get; }

    /// <summary>x: [N, hidden] → [N, hidden] (a new tensor; x is left alone).</summary>
    internal Tensor Forward(Tensor x, ForwardContext ctx)
    {
        using var tmp = new Temporaries();
        var h = tmp.Add(InputNorm.Forward(x));               // [N, C]
        var attn = tmp.Add(Attention.Forward(h, ctx, Index)); // [N, C]
        var x1 = tmp.Add(Ops.Add(x, attn));                  // residual
        var h2 = tmp.Add(PostAttentionNorm.Forward(x1));     // [N, C]
        var m = tmp.Add(Mlp.Forward(h2, ctx.Lora, Index));                  // [N, C]
        return Ops.Add(x1, m);                               // residual
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        InputNorm.Dispose(); Attention.Dispose(); PostAttentionNorm.Dispose(); Mlp.Dispose();
    }
}
