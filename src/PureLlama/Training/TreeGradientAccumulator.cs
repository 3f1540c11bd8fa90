using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// Accumulates the gradients of consecutive micro-batches in <see cref="MicroBatchTree"/>'s order instead of one running
/// sum: after each micro-batch's backward the fresh gradients are taken off the parameters and pushed on a stack, and
/// two partial sums of equal size are added as soon as both exist (a binary counter), so at most ⌈log₂ n⌉ + 1 partial
/// gradients are held. <see cref="Finish"/> adds what is left from the right and puts the block's sum back as the
/// parameters' gradients. A parameter without a gradient in a micro-batch contributes nothing (not zeros).
/// </summary>
internal sealed class TreeGradientAccumulator(IReadOnlyList<NamedParameter> parameters) : IDisposable
{
    private readonly List<(int Size, Tensor?[] Grads)> _stack = [];

    /// <summary>Takes the gradients of the micro-batch just back-propagated off the parameters.</summary>
    public void Push()
    {
        var grads = new Tensor?[parameters.Count];
        for (int i = 0; i < grads.Length; i++)
        {
            grads[i] = parameters[i].Value.Grad;
            parameters[i].Value.Grad = null;
        }
        _stack.Add((1, grads));
        while (_stack.Count >= 2 && _stack[^1].Size == _stack[^2].Size) MergeTop();
    }

    /// <summary>Adds the partial sums left (right to left) and sets them as the parameters' gradients.</summary>
    public void Finish()
    {
        while (_stack.Count >= 2) MergeTop();
        if (_stack.Count == 0) return;
        var sum = _stack[0].Grads;
        _stack.Clear();
        for (int i = 0; i < sum.Length; i++)
        {
            parameters[i].Value.Grad?.Dispose();
            parameters[i].Value.Grad = sum[i];
        }
    }

    // [.., left, right] → [.., left + right].
    private void MergeTop()
    {
        var (rightSize, right) = _stack[^1];
        var (leftSize, left) = _stack[^2];
        _stack.RemoveAt(_stack.Count - 1);
        for (int i = 0; i < left.Length; i++)
        {
            if (right[i] is not { } r) continue;
            if (left[i] is not { } l) { left[i] = r; continue; }
            l.Backend.Axpy(1f, r, l);   // l + r, rounded once
            r.Dispose();
        }
        _stack[^1] = (leftSize + rightSize, left);
    }

    /// <summary>Frees partial sums not handed back (an exception in the middle of a step).</summary>
    public void Dispose()
    {
        foreach (var (_, grads) in _stack)
            foreach (var g in grads) g?.Dispose();
        _stack.Clear();
    }
}
