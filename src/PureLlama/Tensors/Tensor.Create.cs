using System.Runtime.InteropServices;
using PureLlama.Compute;

namespace PureLlama.Tensors;

public sealed unsafe partial class Tensor
{
    /// <summary>A new contiguous tensor (contents zero) on <paramref name="device"/> (CPU by default).</summary>
    public static Tensor Empty(Shape shape, DType dtype = DType.F32, Device? device = null)
    {
        var backend = Backends.Get(device ?? Device.Cpu);
        var storage = backend.Allocate(shape.Numel * dtype.SizeOf());
        return new Tensor(storage, shape, shape.ContiguousStrides(), 0, dtype); // the only reference
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(Shape shape, DType dtype = DType.F32, Device? device = null) => Empty(shape, dtype, device);

    /// <summary>A tensor filled with <paramref name="value"/> (float dtypes).</summary>
    public static Tensor Full(Shape shape, float value, DType dtype = DType.F32, Device? device = null)
    {
        var t = Empty(shape, DType.F32, device);
        t.Backend.Fill(t, value);
        if (dtype == DType.F32) return t;
        using (t) return t.To(dtype);
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(Shape shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 1f, dtype, device);

    /// <summary>Samples of N(0, std²) from a seeded generator, computed on the host (bit-for-bit repeatable).</summary>
    public static Tensor RandN(Shape shape, Rng rng, float std = 1f, DType dtype = DType.F32, Device? device = null)
    {
        var data = new float[shape.Numel];
        rng.FillNormal(data, 0, std);
        return FromArrayAs(data, shape, dtype, device);
    }

    /// <summary>Samples of U[lo, hi) from a seeded generator.</summary>
    public static Tensor RandU(Shape shape, Rng rng, float lo = 0f, float hi = 1f, DType dtype = DType.F32, Device? device = null)
    {
        var data = new float[shape.Numel];
        rng.FillUniform(data, lo, hi);
        return FromArrayAs(data, shape, dtype, device);
    }

    /// <summary>A tensor holding a copy of <paramref name="data"/> (float → F32, int → I32, ushort → BF16, …).</summary>
    public static Tensor FromArray<T>(T[] data, Shape shape, Device? device = null) where T : unmanaged
        => FromSpan<T>(data, shape, DTypeInfo.Of<T>(), device);

    /// <summary>A tensor holding a copy of <paramref name="data"/>, with an explicit dtype of the same element size (e.g. F16 from ushort).</summary>
    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, Shape shape, DType dtype, Device? device = null) where T : unmanaged
    {
        if (data.Length != shape.Numel)
            throw new ArgumentException($"{data.Length} values cannot fill a tensor of shape {shape} ({shape.Numel} elements).");
        if (sizeof(T) != dtype.SizeOf())
            throw new ArgumentException($"Elements of {typeof(T).Name} ({sizeof(T)} bytes) do not match dtype {dtype} ({dtype.SizeOf()} bytes).");
        var t = Empty(shape, dtype, device);
        t.Backend.CopyFromHost(MemoryMarshal.AsBytes(data), t);
        return t;
    }

    /// <summary>F32 values stored as <paramref name="dtype"/> (rounded to nearest even for BF16/F16).</summary>
    public static Tensor FromArrayAs(float[] data, Shape shape, DType dtype, Device? device = null)
    {
        var f32 = FromSpan<float>(data, shape, DType.F32, device);
        if (dtype == DType.F32) return f32;
        using (f32) return f32.To(dtype);
    }

    /// <summary>A scalar F32 tensor.</summary>
    public static Tensor Scalar(float value, Device? device = null) => FromSpan<float>([value], new Shape(), DType.F32, device);

    /// <summary>The elements copied to a host array in row-major order (views are gathered first).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        ThrowIfDisposed();
        if (sizeof(T) != DType.SizeOf())
            throw new ArgumentException($"Cannot read {DType} elements ({DType.SizeOf()} bytes) as {typeof(T).Name} ({sizeof(T)} bytes).");
        var result = new T[Numel];
        if (IsContiguous)
        {
            Backend.CopyToHost(this, MemoryMarshal.AsBytes(result.AsSpan()));
            return result;
        }
        using var dense = ContiguousCopy();
        Backend.CopyToHost(dense, MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    /// <summary>The elements as float32 regardless of the float dtype.</summary>
    public float[] ToFloatArray()
    {
        if (DType == DType.F32) return ToArray<float>();
        if (!DType.IsFloat()) throw new InvalidOperationException($"Tensor {Describe()} does not hold floating-point values.");
        using var f = To(DType.F32);
        return f.ToArray<float>();
    }

    /// <summary>
    /// The elements as float32 into <paramref name="destination"/> (length = Numel), with no new array when the tensor is
    /// contiguous F32: a decode loop reading 128 256 logits per token would otherwise allocate 0.5 MB on the large-object
    /// heap per step, which cost a full (gen2) GC per token.
    /// </summary>
    internal void CopyFloatsTo(Span<float> destination)
    {
        ThrowIfDisposed();
        if (destination.Length != Numel) throw new ArgumentException($"The destination holds {destination.Length} floats; {Describe()} has {Numel}.", nameof(destination));
        if (DType == DType.F32 && IsContiguous) Backend.CopyToHost(this, MemoryMarshal.AsBytes(destination));
        else ToFloatArray().CopyTo(destination);
    }

    /// <summary>The value of a one-element tensor as float.</summary>
    public float Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, not {Describe()}.");
        return ToFloatArray()[0];
    }

    /// <summary>A new contiguous tensor on the same device with the elements converted to <paramref name="dtype"/>.</summary>
    public Tensor To(DType dtype)
    {
        ThrowIfDisposed();
        using var src = IsContiguous ? null : ContiguousCopy();
        var source = src ?? this;
        var result = Empty(Shape, dtype, Device);
        if (dtype == DType) Backend.Copy(source, result);
        else Backend.Cast(source, result);
        return result;
    }

    /// <summary>A copy on another device (same dtype, contiguous).</summary>
    public Tensor To(Device device)
    {
        ThrowIfDisposed();
        using var src = IsContiguous ? null : ContiguousCopy();
        var source = src ?? this;
        var bytes = new byte[source.ByteLength];
        source.Backend.CopyToHost(source, bytes);
        var result = Empty(Shape, DType, device);
        result.Backend.CopyFromHost(bytes, result);
        return result;
    }

    /// <summary>A contiguous copy (no autograd); see <see cref="Autograd.Ops.Contiguous"/> for the recorded one.</summary>
    internal Tensor ContiguousCopy()
    {
        var result = Empty(Shape, DType, Device);
        Backend.Copy(this, result);
        return result;
    }
}
