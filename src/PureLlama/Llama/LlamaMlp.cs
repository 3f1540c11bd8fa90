using PureLlama.Autograd;
using PureLlama.Kernels.Unary;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>Gated MLP: down_proj(f(gate_proj(h)) · up_proj(h)), f = silu (SwiGLU, Llama) or another unary op (GeGLU with gelu).</summary>
public sealed class LlamaMlp : IDisposable
{
    /// <summary>Builds the block from gate [I, C], up [I, C] and down [C, I] projections.</summary>
    public LlamaMlp(ILinear gateProj, ILinear upProj, ILinear downProj, UnaryOp? activation = null)
    {
        GateProj = gateProj; UpProj = upProj; DownProj = downProj;
        Activation = activation ?? UnaryOp.Silu;
    }

    /// <summary>The gate's activation f (config.json's hidden_act).</summary>
    public UnaryOp Activation { get; }

    /// <summary>gate_proj: [intermediate, hidden].</summary>
    public ILinear GateProj { get; internal set; }
    /// <summary>up_proj: [intermediate, hidden].</summary>
    public ILinear UpProj { get; internal set; }
    /// <summary>down_proj: [hidden, intermediate].</summary>
    public ILinear DownProj { get; internal set; }

    /// <summary>h: [N, hidden] → [N, hidden].</summary>
    public Tensor Forward(Tensor h) => Forward(h, null, 0);

    /// <summary>h: [N, hidden] → [N, hidden], with the row groups' LoRA terms when <paramref name="lora"/> is given.</summary>
    internal Tensor Forward(Tensor h, IRowLora? lora, int layer)
    {
        using var tmp = new Temporaries();
        var gateUp = LinearGroup.Forward(h, GateProj, UpProj);
        var g = tmp.Add(gateUp[0]);               // [N, I]
        var u = tmp.Add(gateUp[1]);               // [N, I]
        lora?.Apply(layer, LoraModule.Gate, h, g);
        lora?.Apply(layer, LoraModule.Up, h, u);
        var a = tmp.Add(Ops.Gated(Activation, g, u)); // [N, I]
        var y = DownProj.Forward(a);              // [N, C]
        lora?.Apply(layer, LoraModule.Down, a, y);
        return y;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        GateProj.Dispose(); UpProj.Dispose(); DownProj.Dispose();
    }
}
