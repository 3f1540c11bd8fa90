using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/*
 * NF4 dequant-GEMV for decode (M = 1..4 token rows):
 *
 *   y[i, r] (=|+=) Σ_c x[i, c] · quantMap[code(r·in + c)] · absmax(block(r·in + c))     i < M ≤ 4
 *
 * Bandwidth-bound: each weight is read once at 4 bits (+ 8 bits of absmax code per 64). One warp
 * per output row r, 8 rows per group of 256 threads. Row r is the flat range [r·in, r·in + in),
 * which need not start on a byte or a block. The warp walks it in 8-element words aligned to the
 * whole matrix (element 8w .. 8w+7 = packed bytes 4w .. 4w+3):
 *
 *   flat:   ... | w0 (partial) | w1 | w2 | ... | w_last (partial) | ...
 *   lanes:        lane 0         1    2          (lane l takes words first + l + 32·t)
 *
 * so one warp step reads 32 consecutive 32-bit words (128 B, coalesced). Per word a lane decodes
 * one absmax (blocks are a power of two ≥ 8 elements, so a word never straddles two), looks the 8
 * codes up in a 16-entry shared copy of quantMap (conflict-free: ≤ 16 distinct addresses, one per
 * bank), and adds x·ŵ for each of the M rows of x (x stays in L1/L2: it is reused by every warp).
 * The first and last word of a row are masked per element. A shuffle-down tree reduces each of the
 * M partial sums; lane 0 writes y.
 */
internal static class GpuNf4Gemv
{
    /// <summary>One warp per output row: ⌈out / (256 / warp)⌉ groups of 256.</summary>
    public static KernelConfig Config(int rows, int warpSize) => new(
        new Index3D((rows + QuantGemvCommon.Threads / warpSize - 1) / (QuantGemvCommon.Threads / warpSize), 1, 1),
        new Index3D(QuantGemvCommon.Threads, 1, 1));

    [GpuKernel]
    public static void Kernel(QuantGemvShape p, ArrayView<float> x, Nf4Operand w, ArrayView<float> y)
    {
        var map = SharedMemory.Allocate<float>(16);
        if (Group.IdxX < 16) map[Group.IdxX] = w.QuantMap[Group.IdxX];
        Group.Barrier();

        int warpSize = Warp.WarpSize;
        int row = Grid.IdxX * (Group.DimX / warpSize) + Warp.WarpIdx;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        if (row < p.Out)
        {
            int start = row * p.In, end = start + p.In;
            for (int e = (start & ~7) + Warp.LaneIdx * 8; e < end; e += warpSize * 8)
            {
                Vec8 v = Decode8(map, w.Word(e >> 3), w.BlockAbsmax(e >> w.BlockShift));
                int col = e - start;
                if (e >= start && e + 8 <= end)
                {
                    s0 += QuantGemvCommon.Dot8(x, col, v);
                    if (p.M > 1) s1 += QuantGemvCommon.Dot8(x, p.In + col, v);
                    if (p.M > 2) s2 += QuantGemvCommon.Dot8(x, 2 * p.In + col, v);
                    if (p.M > 3) s3 += QuantGemvCommon.Dot8(x, 3 * p.In + col, v);
                }
                else
                {
                    s0 += QuantGemvCommon.Dot8Masked(x, 0, col, p.In, v);
                    if (p.M > 1) s1 += QuantGemvCommon.Dot8Masked(x, p.In, col, p.In, v);
                    if (p.M > 2) s2 += QuantGemvCommon.Dot8Masked(x, 2 * p.In, col, p.In, v);
                    if (p.M > 3) s3 += QuantGemvCommon.Dot8Masked(x, 3 * p.In, col, p.In, v);
                }
            }
        }
        QuantGemvCommon.ReduceAndStore(p, y, row, 1f, s0, s1, s2, s3);
    }

    /// <summary>
    /// The 8 weights of one packed word: byte t (bits 8t..8t+7) holds element 2t in its high
    /// nibble and 2t+1 in its low nibble; each is quantMap[code]·absmax.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec8 Decode8(ArrayView<float> map, uint word, float absmax)
    {
        Vec8 v;
        v.V0 = map[(int)((word >> 4) & 15u)] * absmax;
        v.V1 = map[(int)(word & 15u)] * absmax;
        v.V2 = map[(int)((word >> 12) & 15u)] * absmax;
        v.V3 = map[(int)((word >> 8) & 15u)] * absmax;
        v.V4 = map[(int)((word >> 20) & 15u)] * absmax;
        v.V5 = map[(int)((word >> 16) & 15u)] * absmax;
        v.V6 = map[(int)(word >> 28)] * absmax;
        v.V7 = map[(int)((word >> 24) & 15u)] * absmax;
        return v;
    }
}
