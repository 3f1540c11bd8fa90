using PureLlama.Tensors;

namespace PureLlama.Autograd;

/// <summary>
/// One recorded differentiable op: it saves what its backward needs during the forward, and maps
/// the gradient of its output to gradients of its inputs. Large fused ops (norm, attention,
/// cross-entropy) are single functions with hand-written backward kernels, as in llm.c.
/// </summary>
public abstract class Function
{
    internal Tensor[] Inputs { get; set; } = [];
    internal long Sequence { get; set; }
    internal bool Released { get; set; }

    /// <summary>Name shown in errors and graph dumps.</summary>
    public virtual string Name => GetType().Name.Replace("Function", "");

    /// <summary>
    /// Gradients for each input (aligned with the inputs; null where an input needs none), given the
    /// gradient of the output. Returned tensors are owned by the caller.
    /// </summary>
    protected internal abstract Tensor?[] Backward(Tensor gradOutput);

    /// <summary>Drops saved tensors once the backward has run.</summary>
    protected internal virtual void ReleaseSaved() { }

    /// <summary>True if input <paramref name="i"/> wants a gradient.</summary>
    protected bool NeedsGrad(int i) => Inputs[i].RequiresGrad;
}
