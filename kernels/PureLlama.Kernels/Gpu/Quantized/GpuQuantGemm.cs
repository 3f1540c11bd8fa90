using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/*
 * Dequant-GEMM for prefill and training: the shared-memory tiled GEMM (GpuTiledMatmul.Run,
 * 128×128 C block per group of 256, k steps of 16, 8×8 register block per thread) with the B tile
 * dequantized while it is copied into shared memory:
 *
 *   forward      y[M, out] (=|+=) x[M, in] · Ŵᵀ      C = y, A = x, N = out, K = in, TransB = 1 (B(k,n) = Ŵ[n,k])
 *   transposed   y[M, in]  (=|+=) x[M, out] · Ŵ      C = y, A = x, N = in,  K = out, TransB = 0 (B(k,n) = Ŵ[k,n])
 *
 * Each tile element costs one packed-byte (or int8) load, an absmax decode and one multiply,
 * against the 8 × 8 × 16 FMAs every thread does per k step; the copy stays coalesced along the
 * weight's contiguous `in` dimension in both directions (TransB picks the copy order).
 */
internal static class GpuQuantGemm
{
    [GpuKernel]
    public static void Nf4Kernel(GemmShape p, ArrayView<float> x, Nf4Operand w, ArrayView<float> y) =>
        GpuTiledMatmul.Run<float, F32Widen, Nf4Operand>(p, x, w, y);

    [GpuKernel]
    public static void Int8Kernel(GemmShape p, ArrayView<float> x, Int8Operand w, ArrayView<float> y) =>
        GpuTiledMatmul.Run<float, F32Widen, Int8Operand>(p, x, w, y);

    /// <summary>Grid of 128×128 blocks of C[M, N], 256 threads each.</summary>
    public static KernelConfig Config(int m, int n) => new(
        new Index3D((n + GpuTiledMatmul.TileN - 1) / GpuTiledMatmul.TileN, (m + GpuTiledMatmul.TileM - 1) / GpuTiledMatmul.TileM, 1),
        new Index3D(GpuTiledMatmul.Threads, 1, 1));
}
