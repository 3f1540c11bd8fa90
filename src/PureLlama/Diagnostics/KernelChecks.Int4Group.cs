using PureLlama.Compute;
using PureLlama.Kernels.Reference;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

internal static partial class KernelChecks
{
    /// <summary>
    /// INT4 group dequant-matmul (forward, transposed, accumulate) and dequantize against dequantize-then-float64-matmul,
    /// on ragged shapes: groups not dividing in, act-order (permuted g_idx), per-channel (−1), panels crossing 128.
    /// </summary>
    private static IEnumerable<KernelCheck> Int4GroupChecks(bool small)
    {
        var cases = small
            ? new[] { (1, 24, 40, 16, false), (3, 16, 48, 16, true), (5, 32, 24, -1, false) }
            : new[] { (1, 72, 200, 64, false), (3, 136, 264, 32, true), (4, 264, 136, -1, false), (33, 264, 136, 128, false), (17, 136, 1000, 64, true) };
        foreach (var (m, rows, cols, group, actOrder) in cases)
        {
            yield return Int4Group(m, rows, cols, group, actOrder, transposed: false, accumulate: false);
            yield return Int4Group(m, rows, cols, group, actOrder, transposed: true, accumulate: false);
            yield return Int4Group(m, rows, cols, group, actOrder, transposed: false, accumulate: true);
        }
    }

    private static KernelCheck Int4Group(int m, int rows, int cols, int group, bool actOrder, bool transposed, bool accumulate)
    {
        string name = transposed ? "int4 group matmul x·Ŵ" : "int4 group matmul x·Ŵᵀ";
        string shape = $"{m}x[{rows},{cols}] g{group}{(actOrder ? " act-order" : "")}{(accumulate ? " accumulate" : "")}";
        return new(name, shape, be =>
        {
            var rng = new Rng((ulong)Seed(name, m, rows, cols, group, actOrder ? 1 : 0, accumulate ? 1 : 0));
            var (qweight, qzeros, scales, gIdx, groups) = RandomInt4Group(rng, rows, cols, group, actOrder);
            var w = ReferenceInt4Group.Dequantize(rows, cols, qweight, qzeros, scales, gIdx); // [out, in]
            int k = transposed ? rows : cols, n = transposed ? cols : rows;
            var x = Random(rng, m * k);
            var expected = ReferenceMatmul.Matmul(m, n, k, ToDouble(x), k, false, w, cols, transB: !transposed);
            using var tw = new Int4GroupTensor(new Shape(rows, cols), group, groups, false,
                Tensor.FromArray(qweight, new Shape(cols / 8, rows), be.Device), Tensor.FromArray(qzeros, new Shape(groups, rows / 8), be.Device),
                Tensor.FromSpan<ushort>(scales, new Shape(groups, rows), DType.F16, be.Device), Tensor.FromArray(gIdx, new Shape(cols), be.Device));
            using var tx = Upload(be, x, m, k);
            float[]? y0 = accumulate ? Random(rng, m * n) : null;
            using var ty = y0 is null ? Poisoned(be, m, n) : Upload(be, y0, m, n);
            if (y0 is not null) for (int i = 0; i < expected.Length; i++) expected[i] += y0[i];
            Timed(be, "matmul", OpWork.Compute(2.0 * m * n * k), () => be.QuantizedMatMul(tx, tw, ty, transposed, accumulate));
            var result = Compare(name, shape, ty, expected, k >= 1000 ? LongTol : F32Tol);
            if (transposed || accumulate) return result;
            using var dense = Poisoned(be, rows, cols);
            be.Dequantize(tw, dense);
            return Worst(result, Compare("int4 group dequantize", shape, dense, w, F32Tol));
        });
    }

    /// <summary>Random codes, zeros and F16 scales in the GPTQ layout; g_idx consecutive or a random permutation of them.</summary>
    internal static (int[] QWeight, int[] QZeros, ushort[] Scales, int[] GIdx, int Groups) RandomInt4Group(Rng rng, int rows, int cols, int group, bool actOrder)
    {
        int width = group < 0 ? cols : group, groups = (cols + width - 1) / width;
        var qweight = new int[cols / 8 * rows];
        for (int i = 0; i < qweight.Length; i++) qweight[i] = (int)rng.NextUInt64();
        var qzeros = new int[groups * rows / 8];
        for (int i = 0; i < qzeros.Length; i++) qzeros[i] = (int)rng.NextUInt64();
        var scales = new ushort[groups * rows];
        for (int i = 0; i < scales.Length; i++) scales[i] = ReferenceConvert.F32ToF16((float)rng.NextUniform(0.005, 0.05));
        var gIdx = new int[cols];
        for (int i = 0; i < cols; i++) gIdx[i] = i / width;
        if (actOrder)
            for (int i = cols - 1; i > 0; i--) { int j = rng.NextInt(i + 1); (gIdx[i], gIdx[j]) = (gIdx[j], gIdx[i]); }
        return (qweight, qzeros, scales, gIdx, groups);
    }
}
