using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <summary>Dequant-matmul of an INT4 group weight (the <see cref="QuantFormat.Int4Group"/> case of <see cref="QuantizedMatMul"/>).</summary>
    private void Int4GroupMatMul(Tensor x, Int4GroupTensor w, Tensor y, bool transposeWeight, bool accumulate)
    {
        int m = Int4GroupShapes.Validate(this, x, w, y, transposeWeight);
        if (m == 0) return;
        var dims = new Int4GroupDims(m, w.Rows, w.Columns, accumulate ? 1 : 0);
        if (transposeWeight) GpuInt4Group.Transposed(Stream, F(x), I32(w.QWeight), I32(w.QZeros), U16(w.Scales), I32(w.GIdx), F(y), dims);
        else GpuInt4Group.Forward(Stream, F(x), I32(w.QWeight), I32(w.QZeros), U16(w.Scales), I32(w.GIdx), F(y), dims);
    }

    /// <summary>Ŵ of an INT4 group weight into F32 [out, in].</summary>
    private void Int4GroupDequantize(Int4GroupTensor w, Tensor destination)
    {
        Int4GroupShapes.ValidateDequantize(this, w, destination);
        GpuInt4Group.Dequantize(Stream, I32(w.QWeight), I32(w.QZeros), U16(w.Scales), I32(w.GIdx), F(destination), w.Rows, w.Columns);
    }
}
