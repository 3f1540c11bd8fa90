using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void MatMul(Tensor a, Tensor b, Tensor c, bool transA, bool transB, bool accumulate)
    {
        var dims = MatMulShapes.Validate(this, a, b, c, transA, transB);
        float* pa = a.Pointer<float>();
        float* pc = c.Pointer<float>();
        long strideA = (long)dims.M * dims.K, strideC = (long)dims.M * dims.N;
        long strideB = dims.BatchedB ? (long)dims.K * dims.N : 0;
        int lda = transA ? dims.M : dims.K, ldb = transB ? dims.K : dims.N;
        for (int i = 0; i < dims.Batch; i++)
        {
            if (b.DType == DType.BF16)
                SimdGemm.F32Bf16(dims.M, dims.N, dims.K, pa + i * strideA, lda, transA, b.Pointer<ushort>() + i * strideB, ldb, transB, pc + i * strideC, dims.N, accumulate);
            else
                SimdGemm.F32(dims.M, dims.N, dims.K, pa + i * strideA, lda, transA, b.Pointer<float>() + i * strideB, ldb, transB, pc + i * strideC, dims.N, accumulate);
        }
    }
}

/// <summary>The sizes of a (batched) matrix product, validated once for every backend.</summary>
internal readonly record struct MatMulShapes(int Batch, int M, int N, int K, bool BatchedB)
{
    public static MatMulShapes Validate(IBackend backend, Tensor a, Tensor b, Tensor c, bool transA, bool transB)
    {
        Check.F32(backend, a, nameof(a));
        Check.F32OrBf16(backend, b, nameof(b));
        Check.F32Out(backend, c, nameof(c));
        if (a.Rank < 2 || b.Rank < 2 || c.Rank != a.Rank)
            throw new ArgumentException($"MatMul: a {a.Describe()}, b {b.Describe()}, c {c.Describe()} must be matrices with c of a's rank.");
        int m = transA ? a.Shape[-1] : a.Shape[-2];
        int k = transA ? a.Shape[-2] : a.Shape[-1];
        int kb = transB ? b.Shape[-1] : b.Shape[-2];
        int n = transB ? b.Shape[-2] : b.Shape[-1];
        if (k != kb) throw new ArgumentException($"MatMul: inner dimensions of a {a.Describe()} and b {b.Describe()} differ ({k} vs {kb}).");
        if (c.Shape[-2] != m || c.Shape[-1] != n) throw new ArgumentException($"MatMul: c {c.Describe()} must end in [{m}, {n}].");
        long batch = 1;
        for (int i = 0; i < a.Rank - 2; i++)
        {
            if (a.Shape[i] != c.Shape[i]) throw new ArgumentException($"MatMul: batch dimensions of a {a.Describe()} and c {c.Describe()} differ.");
            batch *= a.Shape[i];
        }
        bool batchedB = b.Rank > 2;
        if (batchedB)
        {
            if (b.Rank != a.Rank) throw new ArgumentException($"MatMul: b {b.Describe()} must be a matrix or have a's batch dimensions {a.Describe()}.");
            for (int i = 0; i < a.Rank - 2; i++)
                if (b.Shape[i] != a.Shape[i]) throw new ArgumentException($"MatMul: batch dimensions of a {a.Describe()} and b {b.Describe()} differ.");
        }
        return new MatMulShapes(Check.Int(batch, "MatMul batch"), m, n, k, batchedB);
    }
}
