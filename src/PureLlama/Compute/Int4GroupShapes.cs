using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>Operand checks of the INT4 group dequant-matmul, shared by every backend.</summary>
internal static class Int4GroupShapes
{
    /// <summary>
    /// Checks x [.., k] and y [.., n] (k = in, n = out for the forward; swapped when <paramref name="transposeWeight"/>)
    /// are contiguous F32 on the backend with the same leading dims; returns the row count m.
    /// </summary>
    public static int Validate(IBackend backend, Tensor x, Int4GroupTensor w, Tensor y, bool transposeWeight)
    {
        Check.F32(backend, x, nameof(x));
        Check.F32Out(backend, y, nameof(y));
        if (w.Device != backend.Device) throw new ArgumentException($"Weight {w.Describe()} is not on {backend.Device}.", nameof(w));
        int k = transposeWeight ? w.Rows : w.Columns, n = transposeWeight ? w.Columns : w.Rows;
        if (x.Rank < 1 || y.Rank != x.Rank || x.Shape[-1] != k || y.Shape[-1] != n || x.Numel / k != y.Numel / n)
            throw new ArgumentException($"Quantized matmul{(transposeWeight ? " (transposed)" : "")} of {w.Describe()}: x must be [.., {k}] and y [.., {n}] with the same leading dims, got x {x.Describe()}, y {y.Describe()}.");
        return Check.Int(x.Numel / k, "rows of x");
    }

    /// <summary>Checks the destination of a dequantization: contiguous F32 [out, in] on the backend.</summary>
    public static void ValidateDequantize(IBackend backend, Int4GroupTensor w, Tensor destination)
    {
        Check.F32Out(backend, destination, nameof(destination));
        Check.Shape(destination, w.Shape, nameof(destination));
        if (w.Device != backend.Device) throw new ArgumentException($"Weight {w.Describe()} is not on {backend.Device}.", nameof(w));
    }
}
