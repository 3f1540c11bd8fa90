using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/*
 * INT4-group weight (GPTQ layout) × int8 activations, decode GEMV (M = 1..4 rows of x), with dp4a:
 *
 *   ŵ[o, c] = s[g, o] · (q[c, o] − z[g, o]),   g = G[b] the group of the activation block b ∋ c (a block never straddles groups)
 *   i[j, o, b] = Σ_{c∈b} q[c, o] · a[j, c] − z[g, o] · S[j, b]          exact int32 (S: the activations' block sum)
 *   y[j, o] (=|+=) Σ_b (d[j, b] · s[G[b], o]) · i[j, o, b]             F32, blocks in order within a slice, slices in order
 *
 * The columns are in activation order: act-order weights come here as a copy sorted by group (Int4DotLayout) and the
 * activations are gathered through the same permutation. A qweight word holds columns 8p … 8p+7, column 8p+k in bits
 * 4k … 4k+3, so w & 0x0F0F0F0F is the bytes (q₀, q₂, q₄, q₆) and (w >> 4) & 0x0F0F0F0F is (q₁, q₃, q₅, q₇); the two
 * activation words of those columns are regrouped to match with byte permutes (0x6420, 0x7531). Codes are 0…15, so the
 * signed dp4a applies unchanged. Words past in/8 (a ragged last block, one group only) are not read: a is 0 there.
 *
 * Mapping: a group of 256 threads = 32 outputs (the lanes: neighbouring o read neighbouring qweight words, 128 B per
 * warp and word) × 8 slices of the blocks (the warps). The slices' partials meet in shared memory and warp 0 sums them
 * in slice order and writes y. The float operations of a row j do not depend on M.
 */
internal static class GpuInt4DotGemv
{
    private const int Outputs = 32, Slices = QuantGemvCommon.Threads / Outputs;

    /// <summary>⌈out / 32⌉ groups of 256 threads.</summary>
    public static KernelConfig Config(int rows) => new(new Index3D((rows + Outputs - 1) / Outputs, 1, 1), new Index3D(QuantGemvCommon.Threads, 1, 1));

    [GpuKernel]
    public static void Kernel(QuantGemvShape p, Q8DeviceActivations a, Int4DotOperand w, ArrayView<float> y)
    {
        var partial = SharedMemory.Allocate<float>(Slices * 4 * Outputs);
        int lane = Group.IdxX % Outputs, slice = Group.IdxX / Outputs;
        int o = Grid.IdxX * Outputs + lane;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        if (o < p.Out)
        {
            int perSlice = (a.Blocks + Slices - 1) / Slices;
            int bEnd = XMin(a.Blocks, (slice + 1) * perSlice), words = p.In / 8, rowWords = a.Padded / 4;
            var x = a.Values.Cast<int>();
            int gPrev = -1, zero = 0;
            float scale = 0f;
            for (int b = slice * perSlice; b < bEnd; b++)
            {
                int g = w.BlockGroups[b];
                if (g != gPrev)
                {
                    gPrev = g;
                    scale = GpuBits.F16ToF32(w.Scales[g * p.Out + o]);
                    zero = (int)(((uint)w.QZeros[g * (p.Out / 8) + o / 8] >> (4 * (o % 8))) & 15u);
                }
                int i0 = 0, i1 = 0, i2 = 0, i3 = 0;
                for (int k = 0; k < 4; k++)
                {
                    int word = 4 * b + k;
                    if (word >= words) break;
                    uint packed = (uint)w.QWeight[word * p.Out + o];
                    int even = (int)(packed & 0x0F0F0F0Fu), odd = (int)((packed >> 4) & 0x0F0F0F0Fu);
                    i0 = Dot8(even, odd, x, 2 * word, i0);
                    if (p.M > 1) i1 = Dot8(even, odd, x, rowWords + 2 * word, i1);
                    if (p.M > 2) i2 = Dot8(even, odd, x, 2 * rowWords + 2 * word, i2);
                    if (p.M > 3) i3 = Dot8(even, odd, x, 3 * rowWords + 2 * word, i3);
                }
                s0 += (i0 - zero * a.Sums[b]) * (a.Scales[b] * scale);
                if (p.M > 1) s1 += (i1 - zero * a.Sums[a.Blocks + b]) * (a.Scales[a.Blocks + b] * scale);
                if (p.M > 2) s2 += (i2 - zero * a.Sums[2 * a.Blocks + b]) * (a.Scales[2 * a.Blocks + b] * scale);
                if (p.M > 3) s3 += (i3 - zero * a.Sums[3 * a.Blocks + b]) * (a.Scales[3 * a.Blocks + b] * scale);
            }
        }
        int at = slice * 4 * Outputs + lane;
        partial[at] = s0;
        partial[at + Outputs] = s1;
        partial[at + 2 * Outputs] = s2;
        partial[at + 3 * Outputs] = s3;
        Group.Barrier();
        if (slice != 0 || o >= p.Out) return;
        for (int j = 0; j < p.M; j++)
        {
            float sum = 0f;
            for (int s = 0; s < Slices; s++) sum += partial[(s * 4 + j) * Outputs + lane];
            int idx = j * p.Out + o;
            y[idx] = p.Accumulate != 0 ? y[idx] + sum : sum;
        }
    }

    /// <summary>acc + Σ over the 8 columns of one qweight word: (q₀,q₂,q₄,q₆)·(a₀,a₂,a₄,a₆) + (q₁,q₃,q₅,q₇)·(a₁,a₃,a₅,a₇).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Dot8(int even, int odd, ArrayView<int> x, int at, int acc)
    {
        int lo = x[at], hi = x[at + 1];
        acc = GpuDp4a.Dot4(even, GpuDp4a.Permute(lo, hi, 0x6420), acc);
        return GpuDp4a.Dot4(odd, GpuDp4a.Permute(lo, hi, 0x7531), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int XMin(int a, int b) => a < b ? a : b;
}

/// <summary>
/// An INT4 group weight as kernel data, columns in activation order (Int4DotLayout): qweight I32 [in/8, out],
/// qzeros I32 [groups, out/8], scales F16 bits [groups, out], the group of each activation block I32 [⌈in/32⌉].
/// </summary>
internal struct Int4DotOperand
{
    public ArrayView<int> QWeight;
    public ArrayView<int> QZeros;
    public ArrayView<ushort> Scales;
    public ArrayView<int> BlockGroups;
}
