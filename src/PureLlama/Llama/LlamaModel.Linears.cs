using PureLlama.Nn;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>The seven projections of each layer under their Hugging Face names (model.layers.{i}.self_attn.q_proj …), then lm_head.</summary>
    public IEnumerable<(string Name, ILinear Linear)> NamedLinears()
    {
        foreach (var l in _layers)
        {
            string p = $"model.layers.{l.Index}.";
            yield return (p + "self_attn.q_proj", l.Attention.QProj);
            yield return (p + "self_attn.k_proj", l.Attention.KProj);
            yield return (p + "self_attn.v_proj", l.Attention.VProj);
            yield return (p + "self_attn.o_proj", l.Attention.OProj);
            yield return (p + "mlp.gate_proj", l.Mlp.GateProj);
            yield return (p + "mlp.up_proj", l.Mlp.UpProj);
            yield return (p + "mlp.down_proj", l.Mlp.DownProj);
        }
        yield return ("lm_head", LmHead);
    }

    /// <summary>
    /// Swaps the projection named <paramref name="name"/> (as <see cref="NamedLinears"/> names it) for
    /// <paramref name="replacement"/> of the same in/out features and returns the old one, which the
    /// caller now owns (dispose it unless the replacement wraps it). Used to quantize or to wrap with LoRA.
    /// </summary>
    public ILinear ReplaceLinear(string name, ILinear replacement)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        ILinear old = NamedLinears().FirstOrDefault(x => x.Name == name).Linear
            ?? throw new ArgumentException($"The model has no linear layer named '{name}' (expected e.g. model.layers.0.self_attn.q_proj or lm_head).", nameof(name));
        if (old.InFeatures != replacement.InFeatures || old.OutFeatures != replacement.OutFeatures)
            throw new ArgumentException($"'{name}' is [{old.OutFeatures}, {old.InFeatures}]; the replacement is [{replacement.OutFeatures}, {replacement.InFeatures}].", nameof(replacement));
        if (name == "lm_head") { LmHead = replacement; return old; }
        int dot = name.IndexOf('.', "model.layers.".Length);
        var layer = _layers[int.Parse(name["model.layers.".Length..dot], System.Globalization.CultureInfo.InvariantCulture)];
        switch (name[(dot + 1)..])
        {
            case "self_attn.q_proj": layer.Attention.QProj = replacement; break;
            case "self_attn.k_proj": layer.Attention.KProj = replacement; break;
            case "self_attn.v_proj": layer.Attention.VProj = replacement; break;
            case "self_attn.o_proj": layer.Attention.OProj = replacement; break;
            case "mlp.gate_proj": layer.Mlp.GateProj = replacement; break;
            case "mlp.up_proj": layer.Mlp.UpProj = replacement; break;
            case "mlp.down_proj": layer.Mlp.DownProj = replacement; break;
        }
        return old;
    }
}
