using PureLlama.Compute;
using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Tests.Gguf;

/// <summary>
/// The int8 dot-product path of the block formats (inference on the CPU): against float64 of the exact weight times
/// the int8-rounded activations (only F32 accumulation error may remain), and against the unrounded product.
/// </summary>
public sealed unsafe class GgmlBlockInt8DotTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void Int8_dots_equal_float64_over_the_rounded_activations(GgmlType type)
    {
        if (!BlockQ8DotAvailable()) return;   // no AVX2: the exact path is used, nothing to check here
        var be = (CpuBackend)Backends.Get(Device.Cpu);
        int bv = BlockFormats.BlockValues(type);
        foreach (var (rows, cols, m, accumulate) in new[] { (13, bv, 1, false), (37, 3 * bv, 3, true), (9, 2 * bv, 9, false) })
        {
            var rng = new Rng((ulong)(rows * 31 + cols + m));
            var wData = new float[rows * cols];
            rng.FillUniform(wData, -1f, 1f);
            var xData = new float[m * cols];
            rng.FillUniform(xData, -2f, 2f);
            var y0 = new float[m * rows];
            rng.FillUniform(y0, -1f, 1f);
            using var dense = Tensor.FromArray(wData, new Shape(rows, cols));
            using var w = GgmlQuantizer.Quantize(dense, type);
            var wHat = ReferenceGgmlBlocks.Dequantize((int)type, w.Blocks.ToArray<byte>(), rows, cols);
            using var x = Tensor.FromArray(xData, new Shape(m, cols));
            using var y = Tensor.FromArray(accumulate ? y0 : Enumerable.Repeat(float.NaN, m * rows).ToArray(), new Shape(m, rows));
            using (QuantizedInference.Scope(exactDequant: false))
                be.TryInt8DotMatMul(x, w, y, accumulate).Should().BeTrue();
            var got = y.ToArray<float>();
            double[] xRounded = RoundedActivations(xData, m, cols);
            double worstRounded = 0, worstExact = 0, scale = 0;
            for (int j = 0; j < m; j++)
                for (int r = 0; r < rows; r++)
                {
                    double viaRounded = accumulate ? y0[j * rows + r] : 0, viaExact = viaRounded;
                    for (int c = 0; c < cols; c++)
                    {
                        viaRounded += wHat[(long)r * cols + c] * xRounded[j * cols + c];
                        viaExact += wHat[(long)r * cols + c] * xData[j * cols + c];
                    }
                    worstRounded = Math.Max(worstRounded, Math.Abs(got[j * rows + r] - viaRounded));
                    worstExact = Math.Max(worstExact, Math.Abs(got[j * rows + r] - viaExact));
                    scale = Math.Max(scale, Math.Abs(viaExact));
                }
            worstRounded.Should().BeLessThan(2e-5 * scale, $"{type} [{rows},{cols}] m={m} vs float64 over the int8 activations");
            worstExact.Should().BeLessThan(2e-2 * scale, $"{type} [{rows},{cols}] m={m} vs float64 over the exact activations");
        }
    }

    private static bool BlockQ8DotAvailable() => System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    // x as the int8 path sees it: d[j, b]·q[j, c] from the shared activation quantizer.
    private static double[] RoundedActivations(float[] x, int m, int cols)
    {
        fixed (float* px = x)
        {
            using var a = Q8Activations.Quantize(px, m, cols, cols);
            var r = new double[m * cols];
            for (int j = 0; j < m; j++)
                for (int c = 0; c < cols; c++)
                    r[j * cols + c] = (double)a.RowScales(j)[c / 32] * a.Row(j)[c];
            return r;
        }
    }
}
