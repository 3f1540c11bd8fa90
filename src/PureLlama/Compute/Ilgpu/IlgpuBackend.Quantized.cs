using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void QuantizedMatMul(Tensor x, QuantizedTensor w, Tensor y, bool transposeWeight, bool accumulate) =>
        throw new NotSupportedException($"Dequant-matmul of {w.Format} is not implemented on {Name} yet.");

    /// <inheritdoc/>
    public void Dequantize(QuantizedTensor w, Tensor destination) =>
        throw new NotSupportedException($"Dequantizing {w.Format} is not implemented on {Name} yet.");
}
