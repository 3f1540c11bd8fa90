using PureLlama.Tensors;

namespace PureLlama.Autograd;

/// <summary>
/// Gradient checkpointing: trade compute for memory by keeping only a block's input during the
/// forward and recomputing the block's graph during the backward.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// Runs <paramref name="block"/> on <paramref name="input"/>. With grad mode off this is just
    /// <c>block(input)</c>. With grad mode on the block runs under <see cref="GradMode.NoGrad"/> (its
    /// intermediates are freed as it goes) and one function is recorded that holds the input. In the
    /// backward that function re-runs the block with recording on, from a detached view of the input
    /// that requires a gradient, back-propagates the incoming gradient through the recomputed graph
    /// (a nested <see cref="Tape.Backward"/>), and returns the input's gradient; gradients of the
    /// parameters the block uses accumulate as without checkpointing. The block must compute the
    /// same thing both times: no mutable state, and any randomness (dropout) replayed exactly. It may
    /// use leaves (parameters) and tensors that need no gradient from outside, not intermediate
    /// results of the enclosing graph (those would be back-propagated twice).
    /// </summary>
    public static Tensor Run(Func<Tensor, Tensor> block, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(input);
        if (!GradMode.IsEnabled) return block(input);
        Tensor output;
        using (GradMode.NoGrad()) output = block(input);
        return Tape.RecordAlways(new CheckpointFunction(block), output, input);
    }

    private sealed class CheckpointFunction(Func<Tensor, Tensor> block) : Function
    {
        private Func<Tensor, Tensor>? _block = block;

        public override string Name => "Checkpoint";

        protected internal override Tensor?[] Backward(Tensor gradOutput)
        {
            var input = Inputs[0];
            using var detached = input.ViewWith(input.Shape, input.Strides.ToArray(), input.Offset); // same storage, no history
            detached.RequiresGrad = NeedsGrad(0);
            long before = Tape.LastSequence;
            using (GradMode.EnableGrad())
            {
                var output = _block!(detached);
                try
                {
                    if (output.Shape != gradOutput.Shape)
                        throw new InvalidOperationException($"A checkpointed block recomputed {output.Describe()}, but its forward gave {gradOutput.Shape}: the block is not deterministic.");
                    if (output.RequiresGrad) Tape.Backward(output, gradOutput);
                }
                finally
                {
                    DisposeRecomputed(output, before);
                }
            }
            var dx = detached.Grad;
            detached.Grad = null;
            return [dx];
        }

        protected internal override void ReleaseSaved() => _block = null;

        // Frees the tensors the recomputation produced (output and every intermediate recorded after
        // sequence `before`) now that their backward has run, instead of leaving them to the finalizer.
        private static void DisposeRecomputed(Tensor output, long before)
        {
            var seen = new HashSet<Function>();
            var stack = new Stack<Tensor>();
            stack.Push(output);
            while (stack.Count > 0)
            {
                var t = stack.Pop();
                if (t.GradFn is not { } fn || fn.Sequence <= before) continue;
                if (seen.Add(fn)) foreach (var input in fn.Inputs) stack.Push(input);
                t.Dispose();
            }
        }
    }
}
