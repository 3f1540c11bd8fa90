using PureLlama.Compute;
using PureLlama.Kernels.Reference;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

internal static partial class KernelChecks
{
    /// <summary>
    /// The inference fast path of INT8 and INT4 group weights (activations quantized to int8 blocks of 32, integer dot
    /// products: the CPU's tiles, the GPU's dp4a GEMVs at m ≤ 4) against float64 Ŵ·x, on ragged shapes: rows not a
    /// multiple of 32, INT8 rows not a multiple of the block, INT4 per-channel over 200 columns, g64 and act-order g32.
    /// The tolerance is the activations' int8 rounding (<see cref="ActivationRoundingTol"/>). Skipped where the backend
    /// has no such path for the weight (the exact path serves it). The ggml block formats use the same check
    /// (<see cref="GgmlBlockChecks"/>).
    /// </summary>
    private static IEnumerable<KernelCheck> Int8DotChecks(bool small)
    {
        yield return Dp4aAgainstEmulation(small ? 4096 : 1 << 16);
        var int8 = small ? new[] { (37, 100) } : new[] { (37, 100), (5, 70), (130, 64) };
        foreach (var (rows, cols) in int8)
            foreach (int m in new[] { 1, 3, 4 })
                yield return Int8Dot("int8", 0, (be, rng) => QuantizedWeight(be, QuantKind.Int8, rng, rows, cols), m, rows, cols, accumulate: m == 3);
        var int4 = small ? new[] { (40, 200, -1, false), (16, 192, 32, true) } : new[] { (40, 200, -1, false), (24, 256, 64, false), (16, 192, 32, true), (264, 160, 64, false) };
        foreach (var (rows, cols, group, actOrder) in int4)
            foreach (int m in new[] { 1, 4 })
                yield return Int8Dot($"int4 g{group}{(actOrder ? " act-order" : "")}", 0, (be, rng) => Int4Weight(be, rng, rows, cols, group, actOrder), m, rows, cols, accumulate: m == 4);
    }

    private const double Int8DotTol = 1e-2;   // reported with a skip only

    /// <summary>
    /// The relative L2 error int8 activations allow: a code rounds x to the nearest multiple of its block's d, an error
    /// uniform in ±d/2 (variance d²/12, independent between elements), and d ≤ max_c |x[j, c]| / 127 whatever the block
    /// (32 or 256 columns, permuted or not). So E‖y − Ŵx‖₂² ≤ Σ_{j,r} Σ_c ŵ[r, c]² · (max|x[j, ·]| / 127)² / 12; the
    /// tolerance is 4× that RMS over ‖reference‖₂, plus <see cref="F32Tol"/> for the float sums. (The worst case,
    /// Σ_c |ŵ|·d/2 per output, is √in times looser and would let a wrong zero point through.)
    /// </summary>
    private static double ActivationRoundingTol(double[] wHat, float[] x, int m, int rows, int cols, double[] reference)
    {
        double variance = 0, norm = 0, rowSquares = 0;
        for (long i = 0; i < (long)rows * cols; i++) rowSquares += wHat[i] * wHat[i];
        for (int j = 0; j < m; j++)
        {
            double xMax = 0;
            for (int c = 0; c < cols; c++) xMax = Math.Max(xMax, Math.Abs(x[j * cols + c]));
            variance += rowSquares * (xMax / 127) * (xMax / 127) / 12;
        }
        foreach (double v in reference) norm += v * v;
        return 4 * Math.Sqrt(variance / Math.Max(norm, double.Epsilon)) + F32Tol;
    }

    /// <summary>y (=|+=) x·Ŵᵀ through the backend's int8 dot-product path (CPU tiles, GPU dp4a) against float64.</summary>
    /// <summary>
    /// The device's dp4a.s32.s32 and prmt.b32 (inline PTX on CUDA) against their integer emulation, bit for bit, on
    /// random words and the extremes (bytes −128, 127, 0): what makes the simulator tests of the dp4a GEMVs stand for CUDA.
    /// </summary>
    private static KernelCheck Dp4aAgainstEmulation(int n) => new("dp4a prmt vs emulation", $"{n} words", be => Guard("dp4a prmt vs emulation", $"{n} words", () =>
    {
        string name = "dp4a prmt vs emulation", shape = $"{n} words";
        if (be is not IlgpuBackend gpu) return new(name, shape, double.NaN, double.NaN, 0, null) { Skipped = "dp4a runs on the ILGPU backend only" };
        var rng = new Rng((ulong)Seed(name, n));
        int[] extremes = [0, -1, int.MinValue, int.MaxValue, unchecked((int)0x80808080), 0x7F7F7F7F, 0x01FF807F];
        var a = new int[n];
        var b = new int[n];
        var c = new int[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = i < 49 ? extremes[i % 7] : (int)rng.NextUInt64();
            b[i] = i < 49 ? extremes[i / 7] : (int)rng.NextUInt64();
            c[i] = (int)(rng.NextUInt64() % (1u << 25)) - (1 << 24);
        }
        var got = gpu.Dp4aProbe(a, b, c);
        for (int i = 0; i < n; i++)
        {
            int[] want = [Kernels.Gpu.GpuDp4a.Dot4Emulated(a[i], b[i], c[i]), Kernels.Gpu.GpuDp4a.PermuteEmulated(a[i], b[i], 0x6420), Kernels.Gpu.GpuDp4a.PermuteEmulated(a[i], b[i], 0x7531)];
            for (int k = 0; k < 3; k++)
                if (got[3 * i + k] != want[k])
                    return new(name, shape, double.PositiveInfinity, double.PositiveInfinity, 0,
                        $"{(k == 0 ? "dp4a" : k == 1 ? "prmt 0x6420" : "prmt 0x7531")} of a = 0x{a[i]:X8}, b = 0x{b[i]:X8}, c = {c[i]}: device {got[3 * i + k]}, emulation {want[k]}");
        }
        return new(name, shape, 0, 0, 0, null);
    }));

    private static KernelCheck Int8Dot(string format, int formatTag, Func<IBackend, Rng, (QuantizedTensor W, double[] WHat)> weight, int m, int rows, int cols, bool accumulate)
    {
        string name = $"qmatmul int8-dot {format}", shape = $"x[{m},{cols}]·Wᵀ W[{rows},{cols}]{(accumulate ? " acc" : "")}";
        return new(name, shape, be => Guard(name, shape, () =>
        {
            var rng = new Rng((ulong)Seed(name, formatTag, m, rows, cols));
            var (w, wHat) = weight(be, rng);
            using var _ = w;
            var x = Random(rng, m * cols);
            var expected = ReferenceQuant.MatmulWeightT(ToDouble(x), m, wHat, rows, cols);
            using var tx = Upload(be, x, [m, cols]);
            Tensor ty;
            if (accumulate)
            {
                var y0 = Random(rng, m * rows);
                for (int i = 0; i < expected.Length; i++) expected[i] += y0[i];
                ty = Upload(be, y0, [m, rows]);
            }
            else ty = Poisoned(be, [m, rows]);
            double tol = ActivationRoundingTol(wHat, x, m, rows, cols, expected);
            using (ty)
            using (QuantizedInference.Scope(exactDequant: false))
            {
                bool ran = be switch
                {
                    CpuBackend cpu => cpu.TryInt8DotMatMul(tx, w, ty, accumulate),
                    IlgpuBackend gpu => gpu.TryInt8DotMatMul(tx, w, ty, accumulate),
                    _ => false,
                };
                if (!ran) return new(name, shape, double.NaN, double.NaN, Int8DotTol, null) { Skipped = $"{be.Name} has no int8 dot path for this weight" };
                return Compare(name, shape, ty, expected, tol);
            }
        }));
    }

    private static (QuantizedTensor W, double[] WHat) Int4Weight(IBackend be, Rng rng, int rows, int cols, int group, bool actOrder)
    {
        var (qweight, qzeros, scales, gIdx, groups) = RandomInt4Group(rng, rows, cols, group, actOrder);
        var w = new Int4GroupTensor(new Shape(rows, cols), group, groups, false,
            Tensor.FromArray(qweight, new Shape(cols / 8, rows), be.Device), Tensor.FromArray(qzeros, new Shape(groups, rows / 8), be.Device),
            Tensor.FromSpan<ushort>(scales, new Shape(groups, rows), DType.F16, be.Device), Tensor.FromArray(gIdx, new Shape(cols), be.Device));
        return (w, ReferenceInt4Group.Dequantize(rows, cols, qweight, qzeros, scales, gIdx));
    }
}
