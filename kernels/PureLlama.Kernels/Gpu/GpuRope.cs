// Rotary position embedding, rotate-half form (GPU form of Rope in docs/kernels/contracts.md).
//
// Math: x [tokens, heads, headDim], h = headDim/2, θ = table[pos[t], i] for i < h:
//   y_i     = x_i·cosθ − x_{i+h}·sinθ
//   y_{i+h} = x_{i+h}·cosθ + x_i·sinθ
// inverse rotates by −θ (the backward: sinθ negated). cos/sin are [maxPos, h] tables.
// Thread mapping: one thread per rotation pair (t, head, i), grid-stride over tokens·heads·h;
// consecutive threads take consecutive i (coalesced). Each thread reads both halves before
// writing them, so y may alias x (in place).
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>RoPE on ILGPU with precomputed cos/sin tables.</summary>
internal static class GpuRope
{
    /// <summary>Rotates x into y (in place allowed); <paramref name="inverse"/> applies −θ.</summary>
    public static void Apply(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int tokens, int heads, int headDim,
        ArrayView<int> positions, ArrayView<float> cos, ArrayView<float> sin, bool inverse)
    {
        var k = GpuKernelCache.For(stream);
        long pairs = (long)tokens * heads * (headDim / 2);
        // 32-bit indices (with headroom so the grid-stride step cannot overflow).
        if (pairs > int.MaxValue / 2) throw new ArgumentException($"RoPE over {tokens}×{heads}×{headDim} exceeds 2^30 rotation pairs in one call.");
        if (pairs == 0) return;
        k.Load<ArrayView<float>, ArrayView<float>, int, int, int, ArrayView<int>, ArrayView<float>, ArrayView<float>, float>(ApplyKernel)
            (stream, k.Stride(pairs), x, y, (int)pairs, heads, headDim, positions, cos, sin, inverse ? -1f : 1f);
    }

    [GpuKernel]
    internal static void ApplyKernel(ArrayView<float> x, ArrayView<float> y, int pairs, int heads, int headDim,
        ArrayView<int> positions, ArrayView<float> cos, ArrayView<float> sin, float sign)
    {
        int half = headDim / 2;
        int stride = Grid.DimX * Group.DimX;
        for (int p = Grid.IdxX * Group.DimX + Group.IdxX; p < pairs; p += stride)
        {
            int vec = p / half;               // (token, head) index: 32-bit division (64-bit is emulated)
            int i = p - vec * half;
            int token = vec / heads;
            long table = (long)positions[token] * half + i;
            float c = cos[table], s = sign * sin[table];
            long at = (long)vec * headDim + i;
            float a = x[at], b = x[at + half];
            y[at] = a * c - b * s;
            y[at + half] = b * c + a * s;
        }
    }
}
