using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>The sizes of a dequant-matmul, validated once for every backend (<see cref="IBackend.QuantizedMatMul"/>).</summary>
/// <param name="M">Rows of x and y: the product of x's leading dimensions.</param>
/// <param name="K">Length of an x row (in, or out when the weight is transposed).</param>
/// <param name="N">Length of a y row.</param>
internal readonly record struct QuantizedShapes(int M, int K, int N)
{
    /// <summary>y (=|+=) x·Ŵᵀ (x: [.., in], y: [.., out]) or with <paramref name="transposeWeight"/> y = x·Ŵ (x: [.., out], y: [.., in]).</summary>
    public static QuantizedShapes Validate(IBackend backend, Tensor x, QuantizedTensor w, Tensor y, bool transposeWeight)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(y);
        Weight(backend, w);
        Check.F32(backend, x, nameof(x));
        Check.F32Out(backend, y, nameof(y));
        int k = transposeWeight ? w.Rows : w.Columns, n = transposeWeight ? w.Columns : w.Rows;
        string product = transposeWeight ? "x·W" : "x·Wᵀ";
        if (x.Rank < 1 || x.Shape[-1] != k)
            throw new ArgumentException($"QuantizedMatMul {product}: x {x.Describe()} must end in {k} for weight {w.Describe()}.", nameof(x));
        if (y.Rank != x.Rank || y.Shape[-1] != n)
            throw new ArgumentException($"QuantizedMatMul {product}: y {y.Describe()} must be x's leading dims × {n} (x {x.Describe()}, weight {w.Describe()}).", nameof(y));
        for (int i = 0; i < x.Rank - 1; i++)
            if (x.Shape[i] != y.Shape[i])
                throw new ArgumentException($"QuantizedMatMul {product}: leading dimensions of x {x.Describe()} and y {y.Describe()} differ.", nameof(y));
        return new QuantizedShapes(Check.Int(x.Numel / Math.Max(1, k), "QuantizedMatMul rows"), k, n);
    }

    /// <summary>Throws unless every component of <paramref name="w"/> is alive and on the backend's device.</summary>
    public static void Weight(IBackend backend, QuantizedTensor w)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.Device != backend.Device)
            throw new ArgumentException($"w: {w.Describe()} is not on {backend.Device}; move it with To(device).", nameof(w));
        foreach (var c in w.Components)
        {
            c.ThrowIfDisposed();
            if (!c.IsContiguous) throw new ArgumentException($"w: component {c.Describe()} of {w.Describe()} must be contiguous.", nameof(w));
        }
    }

    /// <summary>Checks a Dequantize destination: contiguous writable F32 [out, in] on the device.</summary>
    public static void Destination(IBackend backend, QuantizedTensor w, Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Weight(backend, w);
        Check.F32Out(backend, destination, nameof(destination));
        if (destination.Shape != w.Shape)
            throw new ArgumentException($"Dequantize: destination {destination.Describe()} must have the weight's shape {w.Shape} ({w.Describe()}).", nameof(destination));
    }
}
