namespace PureLlama.Tensors;

/// <summary>The packed weight formats PureLlama computes with (docs/quantization.md).</summary>
public enum QuantFormat
{
    /// <summary>QLoRA NormalFloat-4: 16 codes × blockwise absmax (block 64), absmaxes optionally double-quantized to 8 bits.</summary>
    Nf4,
    /// <summary>Symmetric row-wise INT8: q = round(127·w / absmax(row)).</summary>
    Int8,
    /// <summary>
    /// GPTQ-style 4-bit integers with one F16 scale and one 4-bit zero point per group of input columns
    /// (GPTQ / AWQ checkpoints; <see cref="Int4GroupTensor"/>).
    /// </summary>
    Int4Group,
    /// <summary>ggml Q8_0: blocks of 32 int8 codes with one F16 scale (<see cref="GgmlBlockTensor"/>).</summary>
    Q8_0,
    /// <summary>ggml Q4_0: blocks of 32 4-bit codes with one F16 scale (<see cref="GgmlBlockTensor"/>).</summary>
    Q4_0,
    /// <summary>ggml Q4_K: super-blocks of 256, 4-bit codes, 6-bit sub-block scales and mins (<see cref="GgmlBlockTensor"/>).</summary>
    Q4_K,
    /// <summary>ggml Q6_K: super-blocks of 256, 6-bit codes, int8 sub-block scales (<see cref="GgmlBlockTensor"/>).</summary>
    Q6_K,
}

/// <summary>
/// A weight matrix [out, in] (Hugging Face Linear layout) stored packed, as several component tensors
/// on one device. It is read only through dequant-matmul kernels (<see cref="Compute.IBackend.QuantizedMatMul"/>)
/// or dequantized whole (<see cref="Compute.IBackend.Dequantize"/>, for merging and references).
/// Owns its component tensors.
/// </summary>
public abstract class QuantizedTensor : IDisposable
{
    private bool _disposed;
    private readonly Lock _packLock = new();
    private IDisposable? _hostPacked;
    private bool _packTried;

    /// <summary>Logical shape of the dequantized weight: [out, in].</summary>
    public abstract Shape Shape { get; }

    /// <summary>The packing.</summary>
    public abstract QuantFormat Format { get; }

    /// <summary>Where the components live.</summary>
    public abstract Device Device { get; }

    /// <summary>Every component tensor (packed codes, scales, maps…).</summary>
    public abstract IReadOnlyList<Tensor> Components { get; }

    /// <summary>Rows (output features).</summary>
    public int Rows => Shape[0];

    /// <summary>Columns (input features).</summary>
    public int Columns => Shape[1];

    /// <summary>Bytes of all components (what a matmul reads at most).</summary>
    public long ByteLength => Components.Sum(c => c.ByteLength);

    /// <summary>Storage bits per weight, all components included.</summary>
    public double BitsPerWeight => 8.0 * ByteLength / Shape.Numel;

    /// <summary>An optional name (parameter name, for messages and checkpoints).</summary>
    public string? Name { get; set; }

    /// <summary>e.g. "NF4 [2048, 8192] (4.13 bits/weight) on cpu".</summary>
    public string Describe() => $"{(Name is null ? "" : Name + ": ")}{Format} {Shape} ({BitsPerWeight:F2} bits/weight) on {Device}";

    /// <summary>Copies every component to <paramref name="device"/> (a new tensor; this one is left alone).</summary>
    public abstract QuantizedTensor To(Device device);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_packLock) { _hostPacked?.Dispose(); _hostPacked = null; }
        foreach (var c in Components) c.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// The weight repacked for a kernel (CPU tiles, the GPU's dp4a layout; built once by <paramref name="create"/>, which may return null when the
    /// layout cannot express this weight; disposed with the tensor). The files and components are not changed.
    /// </summary>
    internal T? HostPacked<T>(Func<QuantizedTensor, T?> create) where T : class, IDisposable
    {
        lock (_packLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_packTried) { _hostPacked = create(this); _packTried = true; }
            return _hostPacked as T;
        }
    }

    /// <summary>Throws unless <paramref name="t"/> is contiguous, of <paramref name="dtype"/> and shape [<paramref name="length"/>] on <paramref name="device"/>.</summary>
    protected static void Require(Tensor t, string what, DType dtype, long length, Device device)
    {
        ArgumentNullException.ThrowIfNull(t, what);
        if (t.DType != dtype || t.Rank != 1 || t.Shape[0] != length || !t.IsContiguous)
            throw new ArgumentException($"{what} must be a contiguous {dtype} [{length}], got {t.Describe()}.", what);
        if (t.Device != device) throw new ArgumentException($"{what} is on {t.Device}; the other components are on {device}.", what);
    }
}
