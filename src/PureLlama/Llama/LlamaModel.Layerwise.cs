using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>The embeddings of one sequence: ids [T] → [T, hidden] (no autograd; the caller disposes it).</summary>
    internal Tensor EmbedSequence(int[] ids)
    {
        CheckIds(ids);
        using var noGrad = GradMode.NoGrad();
        using var t = Tensor.FromArray(ids, new Shape(ids.Length), Device); // I32 [T]
        return EmbedTokens.Forward(t);
    }

    /// <summary>
    /// Layer <paramref name="layer"/> alone on one sequence at positions 0…T−1 without a cache:
    /// x [T, hidden] → [T, hidden] (a new tensor; no autograd). Used by layer-by-layer calibration.
    /// </summary>
    internal Tensor ForwardLayer(int layer, Tensor x)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = x.Shape[0];
        Rope.Ensure(n);
        var positionsHost = new int[n];
        for (int i = 0; i < n; i++) positionsHost[i] = i;
        using var noGrad = GradMode.NoGrad();
        using var positions = Tensor.FromArray(positionsHost, new Shape(n), Device); // I32 [T]
        var ctx = new ForwardContext { Positions = positions, Rope = Rope, Sequences = [new SequenceSlice(0, n, 0, null)], Tokens = n };
        return _layers[layer].Forward(x, ctx);
    }

    /// <summary>Replaces a layer's input_layernorm (<paramref name="postAttention"/> false) or post_attention_layernorm; returns the old one (the caller disposes it).</summary>
    internal RmsNormLayer ReplaceNorm(int layer, bool postAttention, RmsNormLayer norm)
    {
        var l = _layers[layer];
        var old = postAttention ? l.PostAttentionNorm : l.InputNorm;
        if (norm.Weight.Shape != old.Weight.Shape) throw new ArgumentException($"The new norm weight is {norm.Weight.Shape}; layer {layer} has {old.Weight.Shape}.", nameof(norm));
        if (postAttention) l.PostAttentionNorm = norm; else l.InputNorm = norm;
        return old;
    }

    /// <summary>
    /// Every tensor of the model that is not a projection, under its Hugging Face name (embeddings, norms, and
    /// lm_head when it is untied and dense): what a checkpoint writer stores beside the projections.
    /// </summary>
    internal IEnumerable<(string Name, Tensor Tensor)> NamedDenseTensors()
    {
        yield return ("model.embed_tokens.weight", EmbedTokens.Table);
        foreach (var l in _layers)
        {
            yield return ($"model.layers.{l.Index}.input_layernorm.weight", l.InputNorm.Weight);
            yield return ($"model.layers.{l.Index}.post_attention_layernorm.weight", l.PostAttentionNorm.Weight);
        }
        yield return ("model.norm.weight", Norm.Weight);
    }
}
