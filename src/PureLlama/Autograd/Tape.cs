using PureLlama.Tensors;

namespace PureLlama.Autograd;

/// <summary>
/// Reverse-mode autograd. Each recorded op gets an increasing sequence number (its place on the
/// tape); <see cref="Backward"/> walks the functions reachable from the output in reverse order,
/// so every function runs once, after all users of its output have contributed their gradients.
/// </summary>
public static class Tape
{
    private static long s_sequence;

    /// <summary>
    /// Records <paramref name="function"/> as the producer of <paramref name="output"/> when grad mode
    /// is on and any input requires a gradient. Returns <paramref name="output"/>.
    /// </summary>
    public static Tensor Record(Function function, Tensor output, params Tensor[] inputs)
    {
        if (!GradMode.IsEnabled) return output;
        bool any = false;
        foreach (var t in inputs) any |= t.RequiresGrad;
        if (!any) return output;
        function.Inputs = inputs;
        function.Sequence = Interlocked.Increment(ref s_sequence);
        output.GradFn = function;
        output.RequiresGrad = true;
        return output;
    }

    /// <summary>Sequence number of the last recorded function (functions recorded later have larger ones).</summary>
    internal static long LastSequence => Interlocked.Read(ref s_sequence);

    /// <summary>
    /// Records <paramref name="function"/> as the producer of <paramref name="output"/> whenever grad
    /// mode is on, even if no input requires a gradient (a checkpointed block whose parameters do).
    /// </summary>
    internal static Tensor RecordAlways(Function function, Tensor output, params Tensor[] inputs)
    {
        if (!GradMode.IsEnabled) return output;
        function.Inputs = inputs;
        function.Sequence = Interlocked.Increment(ref s_sequence);
        output.GradFn = function;
        output.RequiresGrad = true;
        return output;
    }

    /// <summary>Back-propagates from <paramref name="root"/>; leaves that require grad get <see cref="Tensor.Grad"/> accumulated.</summary>
    public static void Backward(Tensor root, Tensor? gradient)
    {
        if (!root.RequiresGrad) throw new InvalidOperationException($"Backward() on {root.Describe()}, which does not require a gradient.");
        if (gradient is null && root.Numel != 1) throw new InvalidOperationException($"Backward() without a gradient needs a one-element output, not {root.Describe()}.");
        if (gradient is not null && gradient.Shape != root.Shape) throw new ArgumentException($"Gradient {gradient.Describe()} does not match output {root.Describe()}.");
        var seed = gradient is null ? Tensor.Full(root.Shape, 1f, DType.F32, root.Device) : gradient.ContiguousCopy();

        using var _ = GradMode.NoGrad();
        if (root.GradFn is null) { Accumulate(root, seed); return; }

        var order = ReachableInReverseOrder(root.GradFn);
        var pending = new Dictionary<Function, Tensor> { [root.GradFn] = seed };
        foreach (var fn in order)
        {
            if (!pending.Remove(fn, out var g)) continue;
            if (fn.Released) throw new InvalidOperationException($"The graph through {fn.Name} was already used by a backward pass and released.");
            var grads = fn.Backward(g);
            g.Dispose();
            for (int i = 0; i < fn.Inputs.Length; i++)
            {
                var input = fn.Inputs[i];
                var gi = grads.Length > i ? grads[i] : null;
                if (gi is null) continue;
                if (!input.RequiresGrad) { gi.Dispose(); continue; }
                if (gi.Shape != input.Shape) throw new InvalidOperationException($"{fn.Name} produced a gradient {gi.Shape} for input {input.Describe()}.");
                if (input.GradFn is null) Accumulate(input, gi);
                else if (pending.TryGetValue(input.GradFn, out var existing)) { existing.Backend.Axpy(1f, gi, existing); gi.Dispose(); }
                else pending[input.GradFn] = gi;
            }
            fn.ReleaseSaved();
            fn.Released = true;
        }
        foreach (var leftover in pending.Values) leftover.Dispose();
    }

    private static void Accumulate(Tensor leaf, Tensor grad)
    {
        if (leaf.Grad is null) leaf.Grad = grad;
        else { leaf.Grad.Backend.Axpy(1f, grad, leaf.Grad); grad.Dispose(); }
    }

    private static List<Function> ReachableInReverseOrder(Function root)
    {
        var seen = new HashSet<Function>();
        var stack = new Stack<Function>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var fn = stack.Pop();
            if (!seen.Add(fn)) continue;
            foreach (var input in fn.Inputs)
                if (input.GradFn is { } producer && !seen.Contains(producer)) stack.Push(producer);
        }
        var list = seen.ToList();
        list.Sort((a, b) => b.Sequence.CompareTo(a.Sequence));
        return list;
    }
}
