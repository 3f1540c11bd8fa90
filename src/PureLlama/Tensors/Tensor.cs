using PureLlama.Autograd;
using PureLlama.Compute;

namespace PureLlama.Tensors;

/// <summary>
/// An n-dimensional array: a shape, strides (in elements), an offset, a dtype and a storage on a
/// device. Views (slice, transpose, reshape where strides allow) share the storage without copying.
/// Tensors that require gradients take part in reverse-mode autograd (see <see cref="Ops"/>).
/// Dispose releases this tensor's hold on its storage; memory is freed when the last holder goes.
/// </summary>
public sealed unsafe partial class Tensor : IDisposable
{
    private readonly long[] _strides;
    private int _disposed;

    internal Tensor(Storage storage, Shape shape, long[] strides, long offset, DType dtype)
    {
        if (strides.Length != shape.Rank) throw new ArgumentException($"Strides of rank {strides.Length} do not match shape {shape}.");
        storage.Retain();
        Storage = storage;
        Shape = shape;
        _strides = strides;
        Offset = offset;
        DType = dtype;
    }

    /// <summary>Dimension sizes.</summary>
    public Shape Shape { get; }

    /// <summary>Element strides per dimension.</summary>
    public ReadOnlySpan<long> Strides => _strides;

    /// <summary>Offset of element [0, …, 0] from the start of the storage, in elements.</summary>
    public long Offset { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>The memory this tensor views.</summary>
    public Storage Storage { get; }

    /// <summary>Where the tensor lives.</summary>
    public Device Device => Storage.Device;

    /// <summary>The backend that computes on this tensor's device.</summary>
    public IBackend Backend => Backends.Get(Device);

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Rank;

    /// <summary>Number of elements.</summary>
    public long Numel => Shape.Numel;

    /// <summary>Bytes spanned by the elements when contiguous.</summary>
    public long ByteLength => Numel * DType.SizeOf();

    /// <summary>An optional name (parameter name, for messages and checkpoints).</summary>
    public string? Name { get; set; }

    /// <summary>True when elements are laid out densely in row-major order.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                if (Shape.Dims[i] != 1 && _strides[i] != expected) return false;
                expected *= Shape.Dims[i];
            }
            return true;
        }
    }

    /// <summary>Pointer to element [0, …, 0] of a host tensor.</summary>
    public T* Pointer<T>() where T : unmanaged
    {
        if (Storage is not HostStorage host) throw new InvalidOperationException($"Tensor {Describe()} is on {Device}; a pointer exists only for host tensors.");
        return (T*)(host.Pointer + Offset * DType.SizeOf());
    }

    /// <summary>Short description for error messages: name, shape, dtype, device.</summary>
    public string Describe() => $"{(Name is null ? "" : Name + " ")}{Shape} {DType} on {Device}";

    /// <inheritdoc/>
    public override string ToString() => $"Tensor {Describe()}";

    /// <summary>Releases this tensor's hold on its storage (and its gradient's).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Grad?.Dispose();
        Grad = null;
        GradFn = null;
        Storage.ReleaseRef();
    }

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    internal void ThrowIfDisposed()
    {
        if (IsDisposed) throw new ObjectDisposedException($"Tensor {Describe()}");
    }

    // ---- autograd state ---------------------------------------------------------------------

    /// <summary>Whether gradients flow to (leaf) or through (non-leaf) this tensor.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Accumulated gradient of a leaf after <see cref="Backward"/>.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The function that produced this tensor, when recorded on the tape.</summary>
    internal Function? GradFn { get; set; }

    /// <summary>True for tensors not produced by a recorded op.</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Runs reverse-mode autograd from this tensor (a scalar unless <paramref name="gradient"/> is given).</summary>
    public void Backward(Tensor? gradient = null) => Tape.Backward(this, gradient);
}
