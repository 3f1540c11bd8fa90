using PureLlama.Kernels.Simd;
using PureLlama.Tensors;


namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void Copy(Tensor source, Tensor destination)
    {
        Check.OnDevice(this, source, nameof(source));
        Check.OnDevice(this, destination, nameof(destination));
        Check.Writable(destination, nameof(destination));
        Check.SameShape(source, destination, nameof(source), nameof(destination));
        if (source.DType != destination.DType) throw new ArgumentException($"Copy: {source.Describe()} and {destination.Describe()} differ in dtype; use Cast.");
        int size = source.DType.SizeOf();
        if (source.IsContiguous && destination.IsContiguous)
        {
            Buffer.MemoryCopy(source.Pointer<byte>(), destination.Pointer<byte>(), destination.ByteLength, source.ByteLength);
            return;
        }
        if (destination.IsContiguous)
        {
            Span<long> strideBytes = stackalloc long[source.Rank];
            for (int i = 0; i < strideBytes.Length; i++) strideBytes[i] = source.Strides[i] * size;
            SimdStridedCopy.Copy(source.Pointer<byte>(), strideBytes, destination.Pointer<byte>(), source.Shape.Dims, size);
        }
        else StridedScatter.Copy(source.Pointer<byte>(), source.Strides, destination.Pointer<byte>(), destination.Strides, source.Shape.Dims, size);
    }

    /// <inheritdoc/>
    public void Fill(Tensor destination, float value)
    {
        Check.F32Out(this, destination, nameof(destination));
        SimdElementwise.Fill(destination.Pointer<float>(), value, destination.Numel);
    }

    /// <inheritdoc/>
    public void Cast(Tensor source, Tensor destination)
    {
        Check.CastArguments(this, source, destination);
        long n = source.Numel;
        switch (source.DType, destination.DType)
        {
            case var (s, d) when s == d: Copy(source, destination); break;
            case (DType.F32, DType.BF16): SimdFloatConvert.F32ToBf16(source.Pointer<float>(), destination.Pointer<ushort>(), n); break;
            case (DType.BF16, DType.F32): SimdFloatConvert.Bf16ToF32(source.Pointer<ushort>(), destination.Pointer<float>(), n); break;
            case (DType.F32, DType.F16): SimdFloatConvert.F32ToF16(source.Pointer<float>(), destination.Pointer<ushort>(), n); break;
            case (DType.F16, DType.F32): SimdFloatConvert.F16ToF32(source.Pointer<ushort>(), destination.Pointer<float>(), n); break;
            case (DType.BF16, DType.F16) or (DType.F16, DType.BF16):
                {
                    using var tmp = Tensor.Empty(source.Shape, DType.F32, Device);
                    Cast(source, tmp);
                    Cast(tmp, destination);
                    break;
                }
            default: throw new ArgumentException($"Cast from {source.DType} to {destination.DType} is not supported (float types only).");
        }
    }
}

/// <summary>
/// Copies into a strided destination (for example the gradient of a slice written into its window),
/// one run of the last dimension at a time. Gathers into contiguous memory use the tiled StridedCopy kernel.
/// </summary>
internal static unsafe class StridedScatter
{
    public static void Copy(byte* src, ReadOnlySpan<long> srcStrides, byte* dst, ReadOnlySpan<long> dstStrides, ReadOnlySpan<int> shape, int elementSize)
    {
        int rank = shape.Length;
        if (rank == 0) { Buffer.MemoryCopy(src, dst, elementSize, elementSize); return; }
        long total = 1;
        foreach (var d in shape) total *= d;
        if (total == 0) return;
        int inner = shape[rank - 1];
        long sInner = srcStrides[rank - 1] * elementSize, dInner = dstStrides[rank - 1] * elementSize;
        bool denseRun = sInner == elementSize && dInner == elementSize;
        Span<int> index = stackalloc int[rank];
        long rows = total / inner;
        for (long r = 0; r < rows; r++)
        {
            long so = 0, dOff = 0;
            for (int i = 0; i < rank - 1; i++) { so += index[i] * srcStrides[i]; dOff += index[i] * dstStrides[i]; }
            byte* s = src + so * elementSize;
            byte* d = dst + dOff * elementSize;
            if (denseRun) Buffer.MemoryCopy(s, d, (long)inner * elementSize, (long)inner * elementSize);
            else
                for (int j = 0; j < inner; j++)
                    Buffer.MemoryCopy(s + j * sInner, d + j * dInner, elementSize, elementSize);
            for (int i = rank - 2; i >= 0; i--)
            {
                if (++index[i] < shape[i]) break;
                index[i] = 0;
            }
        }
    }
}
