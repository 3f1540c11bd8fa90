using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Dequant-matmul of an INT4 group weight (the <see cref="QuantFormat.Int4Group"/> case of <see cref="QuantizedMatMul"/>).</summary>
    private void Int4GroupMatMul(Tensor x, Int4GroupTensor w, Tensor y, bool transposeWeight, bool accumulate)
    {
        int m = Int4GroupShapes.Validate(this, x, w, y, transposeWeight);
        if (m == 0) return;
        var weights = Int4GroupView(w);
        if (transposeWeight) SimdInt4GroupMatmul.Transposed(weights, m, x.Pointer<float>(), y.Pointer<float>(), accumulate);
        else SimdInt4GroupMatmul.Forward(weights, m, x.Pointer<float>(), y.Pointer<float>(), accumulate);
    }

    /// <summary>Ŵ of an INT4 group weight into F32 [out, in].</summary>
    private void Int4GroupDequantize(Int4GroupTensor w, Tensor destination)
    {
        Int4GroupShapes.ValidateDequantize(this, w, destination);
        SimdInt4GroupMatmul.Dequantize(Int4GroupView(w), destination.Pointer<float>());
    }

    private static Int4GroupWeights Int4GroupView(Int4GroupTensor w) =>
        new(w.QWeight.Pointer<int>(), w.QZeros.Pointer<int>(), w.Scales.Pointer<ushort>(), w.GIdx.Pointer<int>(), w.Rows, w.Columns, w.Groups);
}
