using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/*
 * Decode-shaped matrix-vector product: one token's activations times a bf16 weight.
 *
 *   c[n] (=|+=) Σ_k a[k] · W[n,k]       a f32 (op(A) is 1×K), W bf16 [N,K] with leading dim ldb
 *
 * Bandwidth-bound: every weight is read once (2 bytes for 2 FLOPs). One warp per output row:
 *
 *   W row n:  | lane0 | lane1 | ... | lane31 | lane0 | lane1 | ...     (4 bf16 per lane per step
 *             '--------- 32 × 4 bf16 = 256 B, one coalesced warp read ----'   when 8-byte aligned)
 *
 * each lane keeps a partial sum in f32, then a shuffle-down tree reduces the warp and lane 0
 * writes c[n]. A group of 256 threads covers 256 / warpSize rows. Works for any warp size, so the
 * same source runs on ILGPU's CPU accelerator.
 */
internal static class GpuGemvBf16
{
    public const int Threads = 256;

    public static KernelConfig Config(int n, int warpSize) => new(
        new Index3D(GpuMatmul.CeilDiv(n, Threads / warpSize), 1, 1),
        new Index3D(Threads, 1, 1));

    /// <summary>Rows of W can be read 4 bf16 at a time when rows start 8-byte aligned and K is a multiple of 4.</summary>
    public static bool CanVectorize(ArrayView<ushort> w, int ldw, int k) =>
        k % 4 == 0 && ldw % 4 == 0 && GpuMatmul.ElementOffset(w) % 4 == 0;

    [GpuKernel]
    public static void Kernel(GemmShape p, ArrayView<float> a, ArrayView<ushort> w, ArrayView<float> c)
    {
        int warpSize = Warp.WarpSize;
        int lane = Warp.LaneIdx;
        int row = Grid.IdxX * (Group.DimX / warpSize) + Warp.WarpIdx;
        int aStride = p.TransA != 0 ? p.Lda : 1; // A stored [K,1] when transposed
        float sum = 0f;
        if (row < p.N)
        {
            int rowBase = row * p.Ldb;
            if (p.Vectorized != 0)
            {
                var w64 = w.Cast<ulong>();
                for (int k = lane * 4; k < p.K; k += warpSize * 4)
                {
                    ulong q = w64[(rowBase + k) >> 2];
                    sum += a[k * aStride] * Interop.IntAsFloat((uint)q << 16);
                    sum += a[(k + 1) * aStride] * Interop.IntAsFloat((uint)q & 0xFFFF0000u);
                    sum += a[(k + 2) * aStride] * Interop.IntAsFloat((uint)(q >> 32) << 16);
                    sum += a[(k + 3) * aStride] * Interop.IntAsFloat((uint)(q >> 32) & 0xFFFF0000u);
                }
            }
            else
            {
                for (int k = lane; k < p.K; k += warpSize)
                    sum += a[k * aStride] * Interop.IntAsFloat((uint)w[rowBase + k] << 16);
            }
        }

        for (int offset = warpSize / 2; offset > 0; offset /= 2)
            sum += Warp.ShuffleDown(sum, offset);

        if (lane == 0 && row < p.N)
            c[row] = p.Accumulate != 0 ? c[row] + sum : sum;
    }
}
