using ILGPU;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    /// <remarks>
    /// Leading dims of x and y are flattened into m rows. Forward products with m ≤ 4 (decode) run the
    /// warp-per-row dequant-GEMV; larger m and the transposed product (input gradient) run the tiled
    /// GEMM with Ŵ tiles dequantized into shared memory (<see cref="GpuQuantizedMatmul"/>).
    /// </remarks>
    public void QuantizedMatMul(Tensor x, QuantizedTensor w, Tensor y, bool transposeWeight, bool accumulate)
    {
        if (w is Int4GroupTensor int4) { Int4GroupMatMul(x, int4, y, transposeWeight, accumulate); return; }
        if (w is GgmlBlockTensor blocks) { GgmlBlockMatMul(x, blocks, y, transposeWeight, accumulate); return; }
        var s = QuantizedShapes.Validate(this, x, w, y, transposeWeight);
        if (s.M == 0) return;
        int m = s.M;
        var px = F(x);
        var py = F(y);
        switch (w)
        {
            case Nf4Tensor nf4: GpuQuantizedMatmul.Nf4(Stream, DeviceWeight(nf4), px, py, m, transposeWeight, accumulate); break;
            case Int8Tensor int8: GpuQuantizedMatmul.Int8(Stream, DeviceWeight(int8), px, py, m, transposeWeight, accumulate); break;
            default: throw new NotSupportedException($"Dequant-matmul of {w.Describe()} ({w.GetType().Name}) is not implemented on {Name}.");
        }
    }

    /// <inheritdoc/>
    public void Dequantize(QuantizedTensor w, Tensor destination)
    {
        if (w is Int4GroupTensor int4) { Int4GroupDequantize(int4, destination); return; }
        if (w is GgmlBlockTensor blocks) { GgmlBlockDequantize(blocks, destination); return; }
        QuantizedShapes.Destination(this, w, destination);
        var dst = F(destination);
        switch (w)
        {
            case Nf4Tensor nf4: GpuQuantizedMatmul.DequantizeNf4(Stream, DeviceWeight(nf4), dst); break;
            case Int8Tensor int8: GpuQuantizedMatmul.DequantizeInt8(Stream, DeviceWeight(int8), dst); break;
            default: throw new NotSupportedException($"Dequantizing {w.Describe()} ({w.GetType().Name}) is not implemented on {Name}.");
        }
    }

    private static Nf4DeviceWeight DeviceWeight(Nf4Tensor w) => new(
        w.Rows, w.Columns, w.BlockSize,
        Bytes(w.Packed), F32View(w.QuantMap),
        w.DoubleQuantized ? default : F32View(w.Absmax), w.DoubleQuantized ? Bytes(w.Absmax) : default,
        w.NestedAbsmax is null ? default : F32View(w.NestedAbsmax),
        w.NestedQuantMap is null ? default : F32View(w.NestedQuantMap),
        w.NestedOffset, w.NestedBlockSize);

    private static Int8DeviceWeight DeviceWeight(Int8Tensor w) => new(
        w.Rows, w.Columns, StorageOf(w.Values).View<sbyte>(w.Values.Offset, w.Values.Numel), F32View(w.RowAbsmax));

    private static ArrayView<byte> Bytes(Tensor t) => StorageOf(t).View<byte>(t.Offset, t.Numel);

    private static ArrayView<float> F32View(Tensor t) => StorageOf(t).View<float>(t.Offset, t.Numel);
}
