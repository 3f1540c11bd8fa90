// Activations quantized to int8 blocks of 32 on the device, the CPU's Q8 format (Simd/Int8Dot/Q8Activations.cs):
//
//   block b of row j:  d[j, b] = max_c |x[j, c]| / 127,   a[j, c] = round_half_even(x[j, c] · (127 / max)) ∈ [−127, 127]
//                      S[j, b] = Σ_{c∈b} a[j, c]            (the block sum, for INT4 zero points)
//   x[j, c] ≈ d[j, b] · a[j, c];  columns past `cols` are 0 (the last block is padded);
//   with a permutation, column c of row j is x[j, perm[c]] (act-order INT4).
//
// Both divisions are IEEE round-to-nearest (div.rn.f32 through inline PTX: the kernels compile in fast-math mode, where
// `/` is div.approx), so the codes, scales and sums are the CPU quantizer's bit for bit.
// A block with a NaN or ±∞ gets d = NaN and codes 0, so the product it feeds is NaN (never a silent finite value).
// One warp of 32 lanes per (row, block): lane c holds column 32b + c; the maximum and the sum are butterfly shuffles
// (exact: max and integer adds do not depend on the order), lane 0 writes d and S.
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PureLlama.Kernels.Gpu;

/// <summary>
/// Quantized activations in device memory: codes I8 [rows, <see cref="Padded"/>], scales F32 [rows, <see cref="Blocks"/>],
/// block sums I32 [rows, Blocks]. Kernel data (views into one scratch buffer, <see cref="GpuQ8Activations.Carve"/>).
/// </summary>
internal struct Q8DeviceActivations
{
    public ArrayView<sbyte> Values;
    public ArrayView<float> Scales;
    public ArrayView<int> Sums;
    public int Rows, Cols, Padded, Blocks;
}

/// <summary>Quantizes F32 activation rows into <see cref="Q8DeviceActivations"/>.</summary>
internal static class GpuQ8Activations
{
    /// <summary>Columns per block.</summary>
    public const int BlockSize = 32;

    /// <summary>Bytes of scratch that <see cref="Carve"/> needs for [rows, cols].</summary>
    public static long ScratchBytes(int rows, int cols)
    {
        long blocks = ((long)cols + BlockSize - 1) / BlockSize;
        return rows * blocks * (BlockSize + 2 * sizeof(float));
    }

    /// <summary>Lays the codes, scales and sums of [rows, cols] out in <paramref name="scratch"/> (4-byte aligned view).</summary>
    public static Q8DeviceActivations Carve(ArrayView<byte> scratch, int rows, int cols)
    {
        int blocks = (cols + BlockSize - 1) / BlockSize, padded = blocks * BlockSize;
        long codes = (long)rows * padded, n = (long)rows * blocks;
        if (scratch.Length < ScratchBytes(rows, cols))
            throw new ArgumentException($"int8 activations [{rows}, {cols}] need {ScratchBytes(rows, cols)} bytes of scratch, got {scratch.Length}.", nameof(scratch));
        if (GpuMatmul.ElementOffset(scratch) % 4 != 0) throw new ArgumentException("int8 activation scratch must start 4-byte aligned.", nameof(scratch));
        return new Q8DeviceActivations
        {
            Values = scratch.SubView(0, codes).Cast<sbyte>(),
            Scales = scratch.SubView(codes, 4 * n).Cast<float>(),
            Sums = scratch.SubView(codes + 4 * n, 4 * n).Cast<int>(),
            Rows = rows, Cols = cols, Padded = padded, Blocks = blocks,
        };
    }

    /// <summary>
    /// a = Q8(x) for x F32 [a.Rows, a.Cols] (contiguous); with <paramref name="permutation"/> (I32 [a.Cols], non-empty)
    /// column c is x[j, permutation[c]]. Needs a warp of 32 lanes.
    /// </summary>
    public static void Quantize(AcceleratorStream stream, ArrayView<float> x, ArrayView<int> permutation, Q8DeviceActivations a)
    {
        if (x.Length != (long)a.Rows * a.Cols) throw new ArgumentException($"int8 activations: x must hold [{a.Rows}, {a.Cols}], has {x.Length} elements.", nameof(x));
        bool permuted = permutation.Length > 0;
        if (permuted && permutation.Length != a.Cols) throw new ArgumentException($"int8 activations: the permutation has {permutation.Length} entries, x has {a.Cols} columns.", nameof(permutation));
        var k = GpuKernelCache.For(stream);
        if (k.Accelerator.WarpSize != BlockSize) throw new NotSupportedException($"int8 activations need a warp of {BlockSize} lanes; {k.Accelerator.Name} has {k.Accelerator.WarpSize}.");
        int warps = a.Rows * a.Blocks, perGroup = QuantGemvCommon.Threads / BlockSize;
        var config = new KernelConfig(new Index3D((warps + perGroup - 1) / perGroup, 1, 1), new Index3D(QuantGemvCommon.Threads, 1, 1));
        k.Load<ArrayView<float>, ArrayView<int>, int, Q8DeviceActivations>(QuantizeKernel)
            (stream, config, x, permuted ? permutation : x.Cast<int>(), permuted ? 1 : 0, a);
    }

    [GpuKernel]
    internal static void QuantizeKernel(ArrayView<float> x, ArrayView<int> permutation, int permuted, Q8DeviceActivations a)
    {
        int item = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (item >= a.Rows * a.Blocks) return;   // whole warps leave together
        int j = item / a.Blocks, b = item - j * a.Blocks;
        int c = b * BlockSize + Warp.LaneIdx;
        float v = 0f;
        if (c < a.Cols) v = x[j * a.Cols + (permuted != 0 ? permutation[c] : c)];
        // NaN counts as +∞ so that one non-finite value makes the whole block's maximum +∞.
        float amax = XMath.IsNaN(v) ? float.PositiveInfinity : XMath.Abs(v);
        for (int offset = BlockSize / 2; offset > 0; offset /= 2) amax = XMath.Max(amax, Warp.ShuffleXor(amax, offset));
        bool finite = amax < float.PositiveInfinity;
        float inv = finite && amax > 0f ? Divide(127f, amax) : 0f;
        int q = finite ? (int)XMath.Clamp(XMath.RoundToEven(v * inv), -127f, 127f) : 0;
        a.Values[j * a.Padded + c] = (sbyte)q;
        int sum = q;
        for (int offset = BlockSize / 2; offset > 0; offset /= 2) sum += Warp.ShuffleXor(sum, offset);
        if (Warp.LaneIdx != 0) return;
        a.Scales[item] = finite ? Divide(amax, 127f) : float.NaN;
        a.Sums[item] = sum;
    }

    /// <summary>a / b rounded to nearest (IEEE), on CUDA too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Divide(float a, float b)
    {
        if (!CudaAsm.IsSupported) return a / b;
        CudaAsm.Emit("div.rn.f32 %0, %1, %2;", out float q, a, b);
        return q;
    }
}
