using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>
/// An INT4 group weight in device memory in its dp4a layout (<see cref="Int4DotLayout"/>): <paramref name="QWeight"/> I32
/// [in/8, out] with the columns sorted by group, <paramref name="QZeros"/> I32 [groups, out/8], <paramref name="Scales"/> F16
/// bits [groups, out], <paramref name="BlockGroups"/> I32 [⌈in/32⌉], <paramref name="Permutation"/> I32 [in] (layout column
/// c = weight column Permutation[c]) or empty for the identity.
/// </summary>
internal readonly record struct Int4DotDeviceWeight(int Out, int In, int Groups,
    ArrayView<int> QWeight, ArrayView<int> QZeros, ArrayView<ushort> Scales, ArrayView<int> BlockGroups, ArrayView<int> Permutation);

/// <summary>
/// Decode products y[m, out] (=|+=) x[m, in]·Ŵᵀ, m ≤ 4, with int8 dot products on an ILGPU accelerator
/// (docs/kernels/int8-dot.md, "GPU"): x is quantized to int8 blocks of 32 in <c>scratch</c>
/// (<see cref="ScratchBytes"/>, 4-byte aligned; free for reuse once the stream has run the launch), then the dp4a GEMV
/// runs. Launches are asynchronous on the given stream. Indices are 32-bit.
/// </summary>
internal static class GpuInt8DotMatmul
{
    /// <summary>Largest m the dp4a GEMVs take (decode).</summary>
    public const int MaxRows = GpuQuantizedMatmul.MaxGemvRows;

    /// <summary>Scratch bytes for x [m, cols].</summary>
    public static long ScratchBytes(int m, int cols) => GpuQ8Activations.ScratchBytes(m, cols);

    /// <summary>INT8 Ŵ = q·SCB/127.</summary>
    public static void Int8(AcceleratorStream stream, in Int8DeviceWeight w, ArrayView<float> x, ArrayView<float> y, int m, bool accumulate, ArrayView<byte> scratch)
    {
        var op = GpuQuantizedMatmul.Operand(w);
        var a = Activations(stream, x, y, m, w.Out, w.In, default, scratch);
        var k = GpuKernelCache.For(stream);
        k.Load<QuantGemvShape, Q8DeviceActivations, Int8Operand, ArrayView<float>>(GpuInt8DotGemv.Kernel)
            (stream, GpuNf4Gemv.Config(w.Out, k.Accelerator.WarpSize), Shape(m, w, accumulate), a, op, y);
    }

    /// <summary>INT4 groups Ŵ = s·(q − z) in the dp4a layout.</summary>
    public static void Int4(AcceleratorStream stream, in Int4DotDeviceWeight w, ArrayView<float> x, ArrayView<float> y, int m, bool accumulate, ArrayView<byte> scratch)
    {
        var op = Operand(w);
        var a = Activations(stream, x, y, m, w.Out, w.In, w.Permutation, scratch);
        var k = GpuKernelCache.For(stream);
        k.Load<QuantGemvShape, Q8DeviceActivations, Int4DotOperand, ArrayView<float>>(GpuInt4DotGemv.Kernel)
            (stream, GpuInt4DotGemv.Config(w.Out), new QuantGemvShape { M = m, Out = w.Out, In = w.In, Accumulate = accumulate ? 1 : 0 }, a, op, y);
    }

    private static QuantGemvShape Shape(int m, in Int8DeviceWeight w, bool accumulate) =>
        new() { M = m, Out = w.Out, In = w.In, Accumulate = accumulate ? 1 : 0 };

    private static Q8DeviceActivations Activations(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int m, int rows, int cols,
        ArrayView<int> permutation, ArrayView<byte> scratch)
    {
        if (m > MaxRows) throw new ArgumentException($"the dp4a GEMV takes at most {MaxRows} rows of x, got m = {m}.", nameof(m));
        GpuQuantizedMatmul.CheckProduct(x, y, m, rows, cols, transposeWeight: false);
        var a = GpuQ8Activations.Carve(scratch, m, cols);
        GpuQ8Activations.Quantize(stream, x, permutation, a);
        return a;
    }

    private static Int4DotOperand Operand(in Int4DotDeviceWeight w)
    {
        GpuQuantizedMatmul.CheckMatrix("INT4 group", w.Out, w.In);
        if (w.Out % 8 != 0 || w.In % 8 != 0) throw new ArgumentException($"INT4 group weight [{w.Out}, {w.In}]: out and in must be multiples of 8.");
        if (w.Groups < 1) throw new ArgumentException($"INT4 group weight needs at least one group, got {w.Groups}.");
        GpuQuantizedMatmul.Need("INT4 qweight", w.QWeight.Length, (long)w.In / 8 * w.Out);
        GpuQuantizedMatmul.Need("INT4 qzeros", w.QZeros.Length, (long)w.Groups * (w.Out / 8));
        GpuQuantizedMatmul.Need("INT4 scales", w.Scales.Length, (long)w.Groups * w.Out);
        GpuQuantizedMatmul.Need("INT4 block groups", w.BlockGroups.Length, (w.In + GpuQ8Activations.BlockSize - 1) / GpuQ8Activations.BlockSize);
        if (w.Permutation.Length != 0) GpuQuantizedMatmul.Need("INT4 permutation", w.Permutation.Length, w.In);
        return new Int4DotOperand { QWeight = w.QWeight, QZeros = w.QZeros, Scales = w.Scales, BlockGroups = w.BlockGroups };
    }
}
