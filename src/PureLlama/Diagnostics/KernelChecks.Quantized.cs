using PureLlama.Compute;
using PureLlama.Kernels.Reference;
using PureLlama.Quantization;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

internal static partial class KernelChecks
{
    /// <summary>The weight formats the dequant-matmul checks cover.</summary>
    private enum QuantKind { Nf4DoubleQuant, Nf4, Int8 }

    /// <summary>
    /// Dequant-matmul (NF4 double-quantized and plain, INT8): GEMV m = 1..3, GEMM m ≥ 17, the transposed
    /// product x·Ŵ and Dequantize, on an in % 64 == 0 weight and on ragged ones whose NF4 blocks cross
    /// row ends; each against dequantize-then-float64-matmul. A backend without the op reports "skipped".
    /// </summary>
    private static IEnumerable<KernelCheck> QuantizedChecks(bool small)
    {
        var shapes = small ? new[] { (9, 64), (5, 37) } : new[] { (37, 128), (5, 100), (130, 65) };
        int gemmRows = small ? 17 : 33;
        foreach (var kind in Enum.GetValues<QuantKind>())
            foreach (var (rows, cols) in shapes)
            {
                for (int m = 1; m <= 3; m++) yield return QuantMatMul(kind, m, rows, cols, transposeWeight: false, accumulate: false);
                yield return QuantMatMul(kind, gemmRows, rows, cols, transposeWeight: false, accumulate: true);
                yield return QuantMatMul(kind, 2, rows, cols, transposeWeight: true, accumulate: false);
                yield return QuantMatMul(kind, gemmRows, rows, cols, transposeWeight: true, accumulate: false);
                yield return Dequantize(kind, rows, cols);
            }
    }

    private static string QuantName(QuantKind kind) => kind switch
    {
        QuantKind.Nf4DoubleQuant => "nf4-dq",
        QuantKind.Nf4 => "nf4",
        _ => "int8",
    };

    private static KernelCheck QuantMatMul(QuantKind kind, int m, int rows, int cols, bool transposeWeight, bool accumulate) =>
        QuantMatMul(QuantName(kind), (int)kind, (be, rng) => QuantizedWeight(be, kind, rng, rows, cols), m, rows, cols, transposeWeight, accumulate);

    private static KernelCheck Dequantize(QuantKind kind, int rows, int cols) =>
        Dequantize(QuantName(kind), (int)kind, (be, rng) => QuantizedWeight(be, kind, rng, rows, cols), rows, cols);

    /// <summary>
    /// y (=|+=) x·Ŵᵀ or x·Ŵ through the backend against dequantize-then-float64-matmul; <paramref name="weight"/> makes
    /// the quantized weight on the backend and its float64 dequantization.
    /// </summary>
    private static KernelCheck QuantMatMul(string format, int formatTag, Func<IBackend, Rng, (QuantizedTensor W, double[] WHat)> weight,
        int m, int rows, int cols, bool transposeWeight, bool accumulate)
    {
        string name = $"qmatmul {format}";
        int k = transposeWeight ? rows : cols, n = transposeWeight ? cols : rows;
        string shape = $"x[{m},{k}]·W{(transposeWeight ? "" : "ᵀ")} W[{rows},{cols}]{(accumulate ? " acc" : "")}";
        return new(name, shape, be => Guard(name, shape, () =>
        {
            var rng = new Rng((ulong)Seed(name, formatTag, m, rows, cols, transposeWeight ? 1 : 0));
            var (w, wHat) = weight(be, rng);
            using var _ = w;
            var x = Random(rng, m * k);
            var expected = transposeWeight
                ? ReferenceQuant.MatmulWeight(ToDouble(x), m, wHat, rows, cols)
                : ReferenceQuant.MatmulWeightT(ToDouble(x), m, wHat, rows, cols);
            // GEMV-sized x goes in with a leading batch dim ([1, m, k]) to cover batched shapes.
            int[] xShape = m <= 3 ? [1, m, k] : [m, k], yShape = m <= 3 ? [1, m, n] : [m, n];
            using var tx = Upload(be, x, xShape);
            Tensor ty;
            if (accumulate)
            {
                var y0 = Random(rng, m * n);
                for (int i = 0; i < expected.Length; i++) expected[i] += y0[i];
                ty = Upload(be, y0, yShape);
            }
            else ty = Poisoned(be, yShape);
            using (ty)
            {
                be.QuantizedMatMul(tx, w, ty, transposeWeight, accumulate);
                return Compare(name, shape, ty, expected, k >= 1000 ? LongTol : F32Tol);
            }
        }));
    }

    /// <summary>Dequantize through the backend into a poisoned destination against the float64 dequantization.</summary>
    private static KernelCheck Dequantize(string format, int formatTag, Func<IBackend, Rng, (QuantizedTensor W, double[] WHat)> weight, int rows, int cols)
    {
        string name = $"dequantize {format}", shape = $"[{rows},{cols}]";
        return new(name, shape, be => Guard(name, shape, () =>
        {
            var rng = new Rng((ulong)Seed(name, formatTag, rows, cols));
            var (w, wHat) = weight(be, rng);
            using var _ = w;
            using var dst = Poisoned(be, rows, cols);
            be.Dequantize(w, dst);
            return Compare(name, shape, dst, wHat, F32Tol);
        }));
    }

    // A random weight quantized on the host, moved to the backend, and its float64 dequantization.
    private static (QuantizedTensor W, double[] WHat) QuantizedWeight(IBackend be, QuantKind kind, Rng rng, int rows, int cols)
    {
        var data = Random(rng, rows * cols);
        if (kind != QuantKind.Int8 && data.Length >= 128) Array.Clear(data, 64, 64);   // one all-zero block (absmax 0)
        using var dense = Tensor.FromArray(data, new Shape(rows, cols));
        QuantizedTensor host = kind == QuantKind.Int8
            ? Int8Quantizer.Quantize(dense, Device.Cpu)
            : Nf4Quantizer.Quantize(dense, Device.Cpu, doubleQuant: kind == QuantKind.Nf4DoubleQuant);
        using (host)
            return (host.To(be.Device), HostDequantize(host));
    }

    private static double[] HostDequantize(QuantizedTensor w) => w switch
    {
        Nf4Tensor q when q.DoubleQuantized => ReferenceQuant.DequantizeNf4(q.Packed.ToArray<byte>(), q.QuantMap.ToArray<float>(),
            q.Absmax.ToArray<byte>(), q.NestedAbsmax!.ToArray<float>(), q.NestedQuantMap!.ToArray<float>(), q.NestedOffset,
            q.BlockSize, q.NestedBlockSize, q.Rows, q.Columns),
        Nf4Tensor q => ReferenceQuant.DequantizeNf4(q.Packed.ToArray<byte>(), q.QuantMap.ToArray<float>(), q.Absmax.ToArray<float>(),
            q.BlockSize, q.Rows, q.Columns),
        Int8Tensor q => ReferenceQuant.DequantizeInt8(q.Values.ToArray<sbyte>(), q.RowAbsmax.ToArray<float>(), q.Rows, q.Columns),
        _ => throw new NotSupportedException(w.Describe()),
    };

    // A backend that does not implement the op yet reports the check as skipped, not passed.
    private static KernelCheckResult Guard(string name, string shape, Func<KernelCheckResult> run)
    {
        try { return run(); }
        catch (NotSupportedException e) { return new(name, shape, double.NaN, double.NaN, F32Tol, null) { Skipped = e.Message }; }
    }
}
