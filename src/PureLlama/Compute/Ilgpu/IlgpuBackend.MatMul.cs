using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    /// <remarks>
    /// Calls GpuMatmul (kernels/PureLlama.Kernels/Gpu/Matmul, branch h/gpu-matmul) once that is merged;
    /// until then the ILGPU backend has no matrix product.
    /// </remarks>
    public void MatMul(Tensor a, Tensor b, Tensor c, bool transA, bool transB, bool accumulate)
    {
        _ = MatMulShapes.Validate(this, a, b, c, transA, transB);
        throw new NotSupportedException($"MatMul on {Device}: the GPU matmul kernels are not merged into this build yet.");
    }
}
