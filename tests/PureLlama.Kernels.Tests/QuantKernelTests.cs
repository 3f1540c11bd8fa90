using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using PureLlama.Quantization;
using static PureLlama.Kernels.Tests.MatmulTestSupport;

namespace PureLlama.Kernels.Tests;

/// <summary>
/// The NF4/INT8 SIMD kernels (fused GEMV, panel GEMM, transposed product, dequantize) at every
/// instruction-set level, against dequantize-then-float64-matmul, on row-aligned and ragged
/// shapes (NF4 blocks crossing row ends), with poisoned outputs. The backend-level checks live
/// in KernelChecks (run on every backend).
/// </summary>
[Collection(MatmulIsaCollection.Name)]
public sealed unsafe class QuantKernelTests
{
    private static readonly (int Rows, int Cols)[] Shapes = [(3, 37), (5, 100), (130, 65), (33, 128), (7, 64), (300, 256), (41, 1152), (9, 3200)];

    public static IEnumerable<object[]> Cases()
    {
        int seed = 500;
        foreach (var level in new[] { GemmSimdLevel.Vector512, GemmSimdLevel.Vector256, GemmSimdLevel.Scalar })
            foreach (var (rows, cols) in Shapes)
                foreach (int format in new[] { 0, 1, 2 })            // NF4 double-quantized, NF4 plain, INT8
                    yield return new object[] { level, format, rows, cols, seed++ };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemv_gemm_transposed_and_dequantize_match_float64(GemmSimdLevel level, int format, int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var w = Random(rng, (long)rows * cols);
        if (w.Length >= 128) Array.Clear(w, 64, 64);                 // an all-zero NF4 block
        var (packed, absmax) = Nf4Quantizer.QuantizeBlocks(w, 64);
        var (codes, nested, offset) = Nf4Quantizer.DoubleQuantize(absmax, 256);
        var map = Nf4Codebook.CodesArray();
        var dyn = Nf4Codebook.DynamicMapArray();
        var q = new sbyte[w.Length];
        var scb = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++) scb[r] = Math.Max(scb[r], Math.Abs(w[r * cols + c]));
            for (int c = 0; c < cols; c++) q[r * cols + c] = (sbyte)Math.Round(127 * w[r * cols + c] / scb[r]);
        }
        double[] wHat = format switch
        {
            0 => ReferenceQuant.DequantizeNf4(packed, map, codes, nested, dyn, offset, 64, 256, rows, cols),
            1 => ReferenceQuant.DequantizeNf4(packed, map, absmax, 64, rows, cols),
            _ => ReferenceQuant.DequantizeInt8(q, scb, rows, cols),
        };

        using var scope = new IsaScope(level);
        fixed (byte* pp = packed, pc = codes)
        fixed (float* pm = map, pa = absmax, pn = nested, pd = dyn, ps = scb)
        fixed (sbyte* pq = q)
        {
            var nf4 = format == 0 ? new Nf4Matrix(rows, cols, 64, pp, pm, pc, pn, pd, offset, 256) : new Nf4Matrix(rows, cols, 64, pp, pm, pa);
            var i8 = new Int8Matrix(rows, cols, pq, ps);
            foreach (int m in new[] { 1, 2, 3, 5, 17 })
                foreach (bool transposed in new[] { false, true })
                    foreach (bool accumulate in new[] { false, true })
                    {
                        int k = transposed ? rows : cols, n = transposed ? cols : rows, ldx = k + 3, ldy = n + 2;
                        var x = Random(rng, (long)m * ldx);
                        var y = accumulate ? Random(rng, (long)m * ldy) : Nan((long)m * ldy);
                        var expected = transposed
                            ? ReferenceQuant.MatmulWeight(Dense(x, m, k, ldx), m, wHat, rows, cols)
                            : ReferenceQuant.MatmulWeightT(Dense(x, m, k, ldx), m, wHat, rows, cols);
                        if (accumulate) AddInitial(expected, y, m, n, ldy);
                        fixed (float* px = x, py = y)
                        {
                            bool gemv = !transposed && m <= 5;
                            if (format == 2 && gemv) SimdInt8Gemv.Run(i8, m, px, ldx, py, ldy, accumulate);
                            else if (format == 2) SimdQuantGemm.Int8(i8, m, px, ldx, py, ldy, accumulate, transposed);
                            else if (gemv) SimdNf4Gemv.Run(nf4, m, px, ldx, py, ldy, accumulate);
                            else SimdQuantGemm.Nf4(nf4, m, px, ldx, py, ldy, accumulate, transposed);
                        }
                        ReferenceMatmul.RelativeError(y, ldy, expected, m, n).Should()
                            .BeLessThanOrEqualTo(1e-5, $"format {format} m={m} transposed={transposed} accumulate={accumulate}");
                    }
            var dst = Nan((long)rows * cols);
            fixed (float* pdst = dst)
            {
                if (format == 2) SimdQuantDequant.Int8(i8, pdst); else SimdQuantDequant.Nf4(nf4, pdst);
            }
            ReferenceMatmul.RelativeError(dst, cols, wHat, rows, cols).Should().BeLessThanOrEqualTo(1e-6);
        }
    }

    [Fact]
    public void Nf4_dequantize_of_an_odd_element_count_reads_the_high_nibble_of_the_last_byte()
    {
        // [1, 3]: codes 0, 15, 7 → bytes 0x0F, 0x70; absmax 2.
        byte[] packed = [0x0F, 0x70];
        float[] map = Nf4Codebook.CodesArray(), absmax = [2f];
        var dst = Nan(3);
        fixed (byte* pp = packed)
        fixed (float* pm = map, pa = absmax, pd = dst)
            SimdQuantDequant.Nf4(new Nf4Matrix(1, 3, 64, pp, pm, pa), pd);
        dst.Should().Equal(-2f, 2f, 0f);
    }

    private static double[] Dense(float[] x, int m, int k, int ldx)
    {
        var d = new double[m * k];
        for (int i = 0; i < m; i++) for (int j = 0; j < k; j++) d[i * k + j] = x[(long)i * ldx + j];
        return d;
    }
}
