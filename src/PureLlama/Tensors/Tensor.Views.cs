using PureLlama.Autograd;

namespace PureLlama.Tensors;

public sealed partial class Tensor
{
    // Raw views share the storage and record nothing; the public methods below go through Ops so
    // gradients flow through views.

    internal Tensor ViewWith(Shape shape, long[] strides, long offset) => new(Storage, shape, strides, offset, DType);

    /// <summary>Strides for viewing this tensor as <paramref name="shape"/> without copying, or null if impossible.</summary>
    internal long[]? StridesForReshape(Shape shape)
    {
        if (shape.Numel != Numel) throw new ArgumentException($"Cannot reshape {Describe()} ({Numel} elements) to {shape} ({shape.Numel} elements).");
        if (IsContiguous) return shape.ContiguousStrides();
        // Merge/split only within runs of dimensions that are contiguous with each other.
        var oldDims = Shape.Dims;
        var newDims = shape.Dims;
        var newStrides = new long[shape.Rank];
        int oi = 0, ni = 0;
        while (oi < oldDims.Length || ni < newDims.Length)
        {
            // skip size-1 dims
            if (ni < newDims.Length && newDims[ni] == 1) { newStrides[ni] = 1; ni++; continue; }
            if (oi < oldDims.Length && oldDims[oi] == 1) { oi++; continue; }
            if (oi >= oldDims.Length || ni >= newDims.Length) return null;
            long oldSize = oldDims[oi], newSize = newDims[ni];
            int oStart = oi, nStart = ni;
            while (oldSize != newSize)
            {
                if (oldSize < newSize) { oi++; if (oi >= oldDims.Length) return null; oldSize *= oldDims[oi]; }
                else { ni++; if (ni >= newDims.Length) return null; newSize *= newDims[ni]; }
            }
            for (int k = oStart; k < oi; k++)
                if (oldDims[k + 1] != 1 && _strides[k] != _strides[k + 1] * oldDims[k + 1]) return null;
            long stride = _strides[oi];
            for (int k = ni; k >= nStart; k--) { newStrides[k] = stride; stride *= newDims[k]; }
            oi++; ni++;
        }
        return newStrides;
    }

    internal Tensor TransposeView(int dim0, int dim1)
    {
        int a = Shape.NormalizeAxis(dim0), b = Shape.NormalizeAxis(dim1);
        var dims = Shape.ToArray();
        var strides = (long[])_strides.Clone();
        (dims[a], dims[b]) = (dims[b], dims[a]);
        (strides[a], strides[b]) = (strides[b], strides[a]);
        return ViewWith(new Shape(dims), strides, Offset);
    }

    internal Tensor PermuteView(int[] order)
    {
        if (order.Length != Rank) throw new ArgumentException($"Permutation of length {order.Length} does not match {Describe()}.");
        var seen = new bool[Rank];
        var dims = new int[Rank];
        var strides = new long[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int src = Shape.NormalizeAxis(order[i]);
            if (seen[src]) throw new ArgumentException($"Permutation [{string.Join(", ", order)}] repeats axis {src}.");
            seen[src] = true;
            dims[i] = Shape.Dims[src];
            strides[i] = _strides[src];
        }
        return ViewWith(new Shape(dims), strides, Offset);
    }

    internal Tensor SliceView(int dim, int start, int length)
    {
        int d = Shape.NormalizeAxis(dim);
        if (start < 0 || length < 0 || start + length > Shape.Dims[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice [{start}, {start + length}) of dimension {d} is outside {Describe()}.");
        var dims = Shape.ToArray();
        dims[d] = length;
        return ViewWith(new Shape(dims), (long[])_strides.Clone(), Offset + start * _strides[d]);
    }

    /// <summary>The same elements in a new shape (a view when strides allow, else a copy). One dimension may be -1.</summary>
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, ResolveShape(shape));

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int dim0, int dim1) => Ops.Transpose(this, dim0, dim1);

    /// <summary>The transpose of a matrix (a view).</summary>
    public Tensor T => Rank == 2 ? Transpose(0, 1) : throw new InvalidOperationException($"T needs a matrix, not {Describe()}.");

    /// <summary>Elements [start, start+length) along <paramref name="dim"/> (a view).</summary>
    public Tensor Slice(int dim, int start, int length) => Ops.Slice(this, dim, start, length);

    /// <summary>This tensor if contiguous, else a contiguous copy.</summary>
    public Tensor Contiguous() => IsContiguous ? this : Ops.Contiguous(this);

    private Shape ResolveShape(int[] dims)
    {
        int infer = Array.IndexOf(dims, -1);
        if (infer < 0) return new Shape(dims);
        if (Array.LastIndexOf(dims, -1) != infer) throw new ArgumentException("Only one dimension of a reshape may be -1.");
        long known = 1;
        for (int i = 0; i < dims.Length; i++) if (i != infer) known *= dims[i];
        if (known == 0 || Numel % known != 0) throw new ArgumentException($"Cannot reshape {Describe()} to [{string.Join(", ", dims)}].");
        var resolved = (int[])dims.Clone();
        resolved[infer] = (int)(Numel / known);
        return new Shape(resolved);
    }
}
