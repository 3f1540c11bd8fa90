using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;
using Device = PureLlama.Tensors.Device;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void Copy(Tensor source, Tensor destination)
    {
        Check.OnDevice(this, source, nameof(source));
        Check.OnDevice(this, destination, nameof(destination));
        Check.Writable(destination, nameof(destination));
        Check.SameShape(source, destination, nameof(source), nameof(destination));
        if (source.DType != destination.DType) throw new ArgumentException($"Copy: {source.Describe()} and {destination.Describe()} differ in dtype; use Cast.");
        if (source.Numel == 0) return;
        Enter();
        if (source.IsContiguous && destination.IsContiguous)
        {
            Raw(source).CopyTo(Stream, Raw(destination));
            return;
        }
        switch (source.DType.SizeOf())
        {
            case 4: CopyStrided<float>(source, destination); break;
            case 2: CopyStrided<ushort>(source, destination); break;
            default: CopyStrided<byte>(source, destination); break;
        }
    }

    private void CopyStrided<T>(Tensor source, Tensor destination) where T : unmanaged
    {
        var (dims, srcStrides, dstStrides) = StridedLayouts.Merge(source.Shape.Dims, source.Strides, destination.Strides);
        if (dims.Length > 6)
            throw new NotSupportedException($"Copy: {source.Describe()} → {destination.Describe()} needs {dims.Length} strided dimensions after merging; the GPU copy handles 6.");
        var src = Whole<T>(source);
        var dst = Whole<T>(destination);
        var srcLayout = new StridedLayout6(dims, srcStrides, source.Offset);
        if (destination.IsContiguous)
            GpuStridedCopy.Copy(Stream, src, srcLayout, dst.SubView(destination.Offset, destination.Numel));
        else
            GpuStridedCopy.Copy(Stream, src, srcLayout, dst, new StridedLayout6(dims, dstStrides, destination.Offset));
    }

    /// <summary>All of a tensor's storage as elements of T (for strided access from offset 0).</summary>
    private static ArrayView<T> Whole<T>(Tensor t) where T : unmanaged
    {
        var storage = StorageOf(t);
        return storage.View<T>(0, storage.ByteLength / System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
    }

    /// <inheritdoc/>
    public void Fill(Tensor destination, float value)
    {
        Check.F32Out(this, destination, nameof(destination));
        if (destination.Numel == 0) return;
        GpuElementwise.Fill(Stream, F(destination), value, destination.Numel);
    }

    /// <inheritdoc/>
    public void Cast(Tensor source, Tensor destination)
    {
        Check.OnDevice(this, source, nameof(source));
        Check.OnDevice(this, destination, nameof(destination));
        Check.Contiguous(source, nameof(source));
        Check.Contiguous(destination, nameof(destination));
        Check.Writable(destination, nameof(destination));
        Check.SameShape(source, destination, nameof(source), nameof(destination));
        long n = source.Numel;
        if (n == 0) return;
        Enter();
        switch (source.DType, destination.DType)
        {
            case var (s, d) when s == d: Copy(source, destination); break;
            case (DType.F32, DType.BF16): GpuConvert.F32ToBf16(Stream, F(source), U16(destination), n); break;
            case (DType.BF16, DType.F32): GpuConvert.Bf16ToF32(Stream, U16(source), F(destination), n); break;
            case (DType.F32, DType.F16): GpuConvert.F32ToF16(Stream, F(source), U16(destination).Cast<ILGPU.Half>(), n); break;
            case (DType.F16, DType.F32): GpuConvert.F16ToF32(Stream, U16(source).Cast<ILGPU.Half>(), F(destination), n); break;
            case (DType.BF16, DType.F16) or (DType.F16, DType.BF16):
                {
                    using var tmp = new Tensor(Allocate(source.Numel * sizeof(float)), source.Shape, source.Shape.ContiguousStrides(), 0, DType.F32);
                    Cast(source, tmp);
                    Cast(tmp, destination);
                    break;
                }
            default: throw new ArgumentException($"Cast from {source.DType} to {destination.DType} is not supported (float types only).");
        }
    }
}

/// <summary>Merging of strided dimensions so more views fit the rank-6 GPU copy.</summary>
internal static class StridedLayouts
{
    /// <summary>
    /// Drops size-1 dimensions and merges neighbours that both layouts step through as one
    /// (stride[i] = stride[i+1]·size[i+1] on both sides).
    /// </summary>
    public static (int[] Dims, long[] StridesA, long[] StridesB) Merge(ReadOnlySpan<int> shape, ReadOnlySpan<long> a, ReadOnlySpan<long> b)
    {
        var dims = new List<int>(); var sa = new List<long>(); var sb = new List<long>();
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 1) continue;
            if (dims.Count > 0 && sa[^1] == a[i] * shape[i] && sb[^1] == b[i] * shape[i])
            {
                dims[^1] *= shape[i]; sa[^1] = a[i]; sb[^1] = b[i];
            }
            else { dims.Add(shape[i]); sa.Add(a[i]); sb.Add(b[i]); }
        }
        return ([.. dims], [.. sa], [.. sb]);
    }
}
