using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void QuantizedMatMul(Tensor x, QuantizedTensor w, Tensor y, bool transposeWeight, bool accumulate)
    {
        if (w is Int4GroupTensor int4) { Int4GroupMatMul(x, int4, y, transposeWeight, accumulate); return; }
        throw new NotSupportedException($"Dequant-matmul of {w.Format} is not implemented on {Name} yet.");
    }

    /// <inheritdoc/>
    public void Dequantize(QuantizedTensor w, Tensor destination)
    {
        if (w is Int4GroupTensor int4) { Int4GroupDequantize(int4, destination); return; }
        throw new NotSupportedException($"Dequantizing {w.Format} is not implemented on {Name} yet.");
    }
}
