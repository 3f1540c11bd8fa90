using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>
/// Intermediate tensors of one forward step, released together at the end of the step when no
/// autograd graph can hold them (grad mode off). With grad mode on they stay alive for the
/// backward and are freed with the graph (storage is refcounted and finalizable).
/// </summary>
internal sealed class Temporaries : IDisposable
{
    private readonly List<Tensor> _items = [];

    /// <summary>Registers <paramref name="t"/> and returns it.</summary>
    public Tensor Add(Tensor t)
    {
        _items.Add(t);
        return t;
    }

    /// <summary>Releases now unless grad mode is on.</summary>
    public static void Drop(Tensor t)
    {
        if (!GradMode.IsEnabled) t.Dispose();
    }

    public void Dispose()
    {
        if (!GradMode.IsEnabled) foreach (var t in _items) t.Dispose();
        _items.Clear();
    }
}
