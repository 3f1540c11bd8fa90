using PureLlama.Kernels;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>Gradient clipping by the global L2 norm, as torch.nn.utils.clip_grad_norm_.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Computes the L2 norm of all gradients together, ‖g‖ = √(Σ_p Σ_i g_pi²), and when it exceeds
    /// <paramref name="maxNorm"/> scales every gradient by maxNorm/(‖g‖ + 1e-6) (torch's rule).
    /// Each parameter's Σg² is reduced on its device into one slot of a per-device buffer (F32),
    /// the buffer is read once, and the slots are added in double. Parameters without a gradient
    /// are skipped. Returns the norm before clipping; a NaN or infinite norm is returned as is and
    /// nothing is scaled: check it with <see cref="float.IsFinite"/> and skip the step.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    public static float ClipGlobalNorm(IReadOnlyList<NamedParameter> parameters, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be > 0.");
        double norm = GlobalNorm(parameters);
        if (!double.IsFinite(norm)) return (float)norm;
        if (norm > maxNorm)
        {
            float coef = (float)(maxNorm / (norm + 1e-6));
            foreach (var p in parameters)
                if (p.Value.Grad is { } g) g.Backend.Scale(g, coef, g);
        }
        return (float)norm;
    }

    /// <summary>√(Σ g²) over every gradient present (0 when none has one).</summary>
    public static double GlobalNorm(IReadOnlyList<NamedParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        double total = 0;
        foreach (var group in parameters.Where(p => p.Value.Grad is not null).GroupBy(p => p.Value.Grad!.Device))
        {
            var grads = group.Select(p => p.Value.Grad!).ToArray();
            using var sums = Tensor.Empty(new Shape(grads.Length), DType.F32, group.Key);   // Σg² of each gradient: [P]
            var be = sums.Backend;
            for (int i = 0; i < grads.Length; i++)
            {
                var g = grads[i];
                using var squares = Tensor.Empty(g.Shape, DType.F32, g.Device);           // g∘g, the gradient's shape
                be.Binary(BinaryOp.Mul, g, g, squares);
                using var slot = sums.ViewWith(new Shape(), [], i);                         // scalar view of sums[i]
                be.SumToShape(squares, slot);
            }
            foreach (var s in sums.ToFloatArray()) total += s;
        }
        return Math.Sqrt(total);
    }
}
