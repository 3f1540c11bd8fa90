using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Rows of x at or below which the fused dequant-GEMV runs (above: panel-dequantizing GEMM).</summary>
    internal const int QuantGemvMaxRows = 8;

    /// <inheritdoc/>
    public void QuantizedMatMul(Tensor x, QuantizedTensor w, Tensor y, bool transposeWeight, bool accumulate)
    {
        if (w is Int4GroupTensor int4) { Int4GroupMatMul(x, int4, y, transposeWeight, accumulate); return; }
        if (w is GgmlBlockTensor blocks) { GgmlBlockMatMul(x, blocks, y, transposeWeight, accumulate); return; }
        var s = QuantizedShapes.Validate(this, x, w, y, transposeWeight);
        if (s.M == 0) return;
        float* px = x.Pointer<float>(), py = y.Pointer<float>();
        bool gemv = !transposeWeight && (s.M <= QuantGemvMaxRows || Kernels.Simd.RowInvariance.IsActive);
        switch (w)
        {
            case Nf4Tensor nf4:
                var n = View(nf4);
                if (gemv) SimdNf4Gemv.Run(n, s.M, px, s.K, py, s.N, accumulate);
                else SimdQuantGemm.Nf4(n, s.M, px, s.K, py, s.N, accumulate, transposeWeight);
                break;
            case Int8Tensor i8:
                var q = View(i8);
                if (gemv) SimdInt8Gemv.Run(q, s.M, px, s.K, py, s.N, accumulate);
                else SimdQuantGemm.Int8(q, s.M, px, s.K, py, s.N, accumulate, transposeWeight);
                break;
            default:
                throw new NotSupportedException($"Dequant-matmul of {w.Describe()} is not implemented on {Name}.");
        }
    }

    /// <inheritdoc/>
    public void Dequantize(QuantizedTensor w, Tensor destination)
    {
        if (w is Int4GroupTensor int4) { Int4GroupDequantize(int4, destination); return; }
        if (w is GgmlBlockTensor blocks) { GgmlBlockDequantize(blocks, destination); return; }
        QuantizedShapes.Destination(this, w, destination);
        float* dst = destination.Pointer<float>();
        switch (w)
        {
            case Nf4Tensor nf4: SimdQuantDequant.Nf4(View(nf4), dst); break;
            case Int8Tensor i8: SimdQuantDequant.Int8(View(i8), dst); break;
            default: throw new NotSupportedException($"Dequantizing {w.Describe()} is not implemented on {Name}.");
        }
    }

    private static Nf4Matrix View(Nf4Tensor w) => w.DoubleQuantized
        ? new Nf4Matrix(w.Rows, w.Columns, w.BlockSize, w.Packed.Pointer<byte>(), w.QuantMap.Pointer<float>(), w.Absmax.Pointer<byte>(),
            w.NestedAbsmax!.Pointer<float>(), w.NestedQuantMap!.Pointer<float>(), w.NestedOffset, w.NestedBlockSize)
        : new Nf4Matrix(w.Rows, w.Columns, w.BlockSize, w.Packed.Pointer<byte>(), w.QuantMap.Pointer<float>(), w.Absmax.Pointer<float>());

    private static Int8Matrix View(Int8Tensor w) =>
        new(w.Rows, w.Columns, w.Values.Pointer<sbyte>(), w.RowAbsmax.Pointer<float>());
}
