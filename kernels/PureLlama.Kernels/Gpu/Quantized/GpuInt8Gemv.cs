using System.Runtime.CompilerServices;
using ILGPU;

namespace PureLlama.Kernels.Gpu;

/*
 * INT8 dequant-GEMV for decode (M = 1..4 token rows):
 *
 *   y[i, r] (=|+=) (SCB[r] / 127) · Σ_c x[i, c] · q[r, c]        i < M ≤ 4
 *
 * The row scale is applied once, after the reduction. Bandwidth-bound (1 byte per weight). One
 * warp per output row, 8 rows per group of 256 threads (launched like GpuNf4Gemv). When rows start 4-byte aligned
 * (in % 4 = 0) a lane reads 4 q at a time (one 32-bit load, 128 B per warp step, coalesced) and
 * sign-extends each byte with shifts: q_t = (int)(word << (24 − 8t)) >> 24. Otherwise lanes take
 * single bytes (c = lane + 32·t). Lane partials of the M rows are summed by shuffles; lane 0 writes.
 */
internal static class GpuInt8Gemv
{
    [GpuKernel]
    public static void Kernel(QuantGemvShape p, ArrayView<float> x, Int8Operand w, ArrayView<float> y)
    {
        int warpSize = Warp.WarpSize;
        int row = Grid.IdxX * (Group.DimX / warpSize) + Warp.WarpIdx;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        float scale = 0f;
        if (row < p.Out)
        {
            scale = w.Scale[row] * (1f / 127f);
            int rowBase = row * p.In;
            if (w.Vectorized != 0)
            {
                var words = w.Values.Cast<uint>();
                for (int c = Warp.LaneIdx * 4; c < p.In; c += warpSize * 4)
                {
                    uint word = words[(rowBase + c) >> 2];
                    float q0 = (int)(word << 24) >> 24, q1 = (int)(word << 16) >> 24;
                    float q2 = (int)(word << 8) >> 24, q3 = (int)word >> 24;
                    s0 += Dot4(x, c, q0, q1, q2, q3);
                    if (p.M > 1) s1 += Dot4(x, p.In + c, q0, q1, q2, q3);
                    if (p.M > 2) s2 += Dot4(x, 2 * p.In + c, q0, q1, q2, q3);
                    if (p.M > 3) s3 += Dot4(x, 3 * p.In + c, q0, q1, q2, q3);
                }
            }
            else
            {
                for (int c = Warp.LaneIdx; c < p.In; c += warpSize)
                {
                    float q = w.Values[rowBase + c];
                    s0 += x[c] * q;
                    if (p.M > 1) s1 += x[p.In + c] * q;
                    if (p.M > 2) s2 += x[2 * p.In + c] * q;
                    if (p.M > 3) s3 += x[3 * p.In + c] * q;
                }
            }
        }
        QuantGemvCommon.ReduceAndStore(p, y, row, scale, s0, s1, s2, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot4(ArrayView<float> x, int b, float q0, float q1, float q2, float q3) =>
        x[b] * q0 + x[b + 1] * q1 + x[b + 2] * q2 + x[b + 3] * q3;
}
