using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    private GpuMatmul? _matmul;

    /// <summary>The matmul kernels of this accelerator, compiled on first use.</summary>
    private GpuMatmul Matmul => LazyInitializer.EnsureInitialized(ref _matmul, () => new GpuMatmul(Accelerator));

    /// <inheritdoc/>
    /// <remarks>
    /// One <see cref="GpuMatmul"/> launch per batch entry: the tiled F32 kernel, or F32×BF16 (the
    /// BF16 GEMV when m = 1 and the weight is used transposed). Operands are row-major with leading
    /// dimensions: A [m,k] (lda k) or stored [k,m] (lda m), B [k,n] (ldb n) or stored [n,k] (ldb k).
    /// </remarks>
    public void MatMul(Tensor a, Tensor b, Tensor c, bool transA, bool transB, bool accumulate)
    {
        var d = MatMulShapes.Validate(this, a, b, c, transA, transB);
        if (c.Numel == 0) return;
        if (d.K == 0)
        {
            if (!accumulate) Fill(c, 0f);
            return;
        }
        long sizeA = (long)d.M * d.K, sizeB = (long)d.K * d.N, sizeC = (long)d.M * d.N;
        long strideB = d.BatchedB ? sizeB : 0;
        int lda = transA ? d.M : d.K, ldb = transB ? d.K : d.N;
        var pa = F(a);
        var pc = F(c);
        var gemm = Matmul;
        if (b.DType == DType.BF16)
        {
            var pb = U16(b);
            for (int i = 0; i < d.Batch; i++)
                gemm.F32Bf16(Stream, d.M, d.N, d.K, pa.SubView(i * sizeA, sizeA), lda, transA,
                    pb.SubView(i * strideB, sizeB), ldb, transB, pc.SubView(i * sizeC, sizeC), d.N, accumulate);
        }
        else
        {
            var pb = F(b);
            for (int i = 0; i < d.Batch; i++)
                gemm.F32(Stream, d.M, d.N, d.K, pa.SubView(i * sizeA, sizeA), lda, transA,
                    pb.SubView(i * strideB, sizeB), ldb, transB, pc.SubView(i * sizeC, sizeC), d.N, accumulate);
        }
    }
}
