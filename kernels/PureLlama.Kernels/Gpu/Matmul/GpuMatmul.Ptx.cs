using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PureLlama.Kernels.Gpu.Ptx;

namespace PureLlama.Kernels.Gpu;

// The BF16 GEMM written as PTX (Ptx/PtxBf16Gemm.cs: fragments in registers, 124 registers, no spills) beside the
// ILGPU tensor-core kernel. Opt-in (PURELLAMA_PTX_GEMM=1) until a GPU run has checked it against the reference and
// timed it against cuBLAS (scripts/gpu/run.sh); the ILGPU kernel stays the default and the portable path.
public sealed partial class GpuMatmul
{
    private CudaPtxKernel? _bf16Ptx;

    /// <summary>True when PURELLAMA_PTX_GEMM=1 routes Bf16 A [m,k] · B [n,k] on CUDA to the PTX kernel.</summary>
    internal static bool PreferPtxGemm { get; } = Environment.GetEnvironmentVariable("PURELLAMA_PTX_GEMM") == "1";

    // The PTX kernel copies 16-byte chunks: k, lda, ldb multiples of 8 and both operands 16-byte aligned.
    private static bool PtxGemmTakes(int m, int n, int k, ArrayView<ushort> a, int lda, ArrayView<ushort> b, int ldb) =>
        k % 8 == 0 && lda % 8 == 0 && ldb % 8 == 0 && ElementOffset(a) % 8 == 0 && ElementOffset(b) % 8 == 0
        && (long)m * lda < uint.MaxValue && (long)n * ldb < uint.MaxValue && m > 0 && n > 0;

    /// <summary>
    /// C[m,n] (=|+=) A[m,k] · B[n,k]ᵀ on tensor cores through the PTX kernel (CUDA sm_80 or newer only). Throws when the
    /// accelerator is not such a device or the operands break the kernel's alignment rules.
    /// </summary>
    internal void Bf16Ptx(AcceleratorStream stream, int m, int n, int k, ArrayView<ushort> a, int lda,
        ArrayView<ushort> b, int ldb, ArrayView<float> c, int ldc, bool accumulate)
    {
        Validate(stream, m, n, k, a.Length, lda, false, b.Length, ldb, true, c.Length, ldc, accumulate);
        if (_accelerator is not CudaAccelerator cuda || cuda.Architecture < CudaArchitecture.SM_80)
            throw new NotSupportedException("The PTX BF16 GEMM needs a CUDA device of compute capability 8.0 or newer.");
        if (!PtxGemmTakes(m, n, k, a, lda, b, ldb))
            throw new ArgumentException($"The PTX BF16 GEMM needs k, lda, ldb multiples of 8 and 16-byte aligned A and B (k={k}, lda={lda}, ldb={ldb}).");
        _bf16Ptx ??= Load(PtxBf16Gemm.Name, () => CudaPtxKernel.Load(cuda, PtxBf16Gemm.Generate(), PtxBf16Gemm.Name));
        var (gridX, gridY) = PtxBf16Gemm.Grid(m, n);
        _bf16Ptx.Launch(stream, gridX, gridY, PtxBf16Gemm.Threads,
        [
            PtxArgument.Pointer(a), PtxArgument.Pointer(b), PtxArgument.Pointer(c),
            PtxArgument.U32(m), PtxArgument.U32(n), PtxArgument.U32(k),
            PtxArgument.U32(lda), PtxArgument.U32(ldb), PtxArgument.U32(ldc), PtxArgument.U32(accumulate ? 1 : 0),
        ]);
    }
}
