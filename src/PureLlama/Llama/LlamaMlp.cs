using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>SwiGLU MLP: down_proj(silu(gate_proj(h)) · up_proj(h)).</summary>
public sealed class LlamaMlp : IDisposable
{
    /// <summary>Builds the block from gate [I, C], up [I, C] and down [C, I] projections.</summary>
    public LlamaMlp(ILinear gateProj, ILinear upProj, ILinear downProj)
    {
        GateProj = gateProj; UpProj = upProj; DownProj = downProj;
    }

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
        var g = tmp.Add(GateProj.Forward(h));     // [N, I]
        lora?.Apply(layer, LoraModule.Gate, h, g);
        var u = tmp.Add(UpProj.Forward(h));       // [N, I]
        lora?.Apply(layer, LoraModule.Up, h, u);
        var a = tmp.Add(Ops.SwiGlu(g, u));        // [N, I]
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
