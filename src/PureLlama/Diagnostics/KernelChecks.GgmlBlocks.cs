using PureLlama.Compute;
using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Reference;
using PureLlama.Quantization;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

internal static partial class KernelChecks
{
    /// <summary>
    /// Dequant-matmul of every ggml block format (Q8_0, Q4_0, Q4_K, Q6_K): GEMV m = 1, 2, 3 and 5 (past one group
    /// of four x rows), GEMM with accumulate, the transposed product x·Ŵ (GEMV- and GEMM-sized) and Dequantize,
    /// on ragged row counts and rows of one, several and an odd number of blocks; each against the float64
    /// dequantization written from the block structs (<see cref="ReferenceGgmlBlocks"/>).
    /// </summary>
    private static IEnumerable<KernelCheck> GgmlBlockChecks(bool small)
    {
        int gemmRows = small ? 17 : 33;
        foreach (var type in BlockFormats.All)
        {
            int bv = BlockFormats.BlockValues(type);
            var shapes = small ? new[] { (9, bv), (5, 3 * bv) } : new[] { (37, bv), (5, 3 * bv), (130, 2 * bv) };
            foreach (var (rows, cols) in shapes)
            {
                string format = type.ToString().ToLowerInvariant();
                Func<IBackend, Rng, (QuantizedTensor, double[])> weight = (be, rng) => GgmlBlockWeight(be, type, rng, rows, cols);
                foreach (int m in new[] { 1, 2, 3, 5 })
                    yield return QuantMatMul(format, (int)type, weight, m, rows, cols, transposeWeight: false, accumulate: m == 2);
                yield return QuantMatMul(format, (int)type, weight, gemmRows, rows, cols, transposeWeight: false, accumulate: true);
                yield return QuantMatMul(format, (int)type, weight, 2, rows, cols, transposeWeight: true, accumulate: false);
                yield return QuantMatMul(format, (int)type, weight, gemmRows, rows, cols, transposeWeight: true, accumulate: true);
                yield return Dequantize(format, (int)type, weight, rows, cols);
                foreach (int m in new[] { 1, 5, gemmRows })
                    yield return Int8Dot(format, (int)type, weight, m, rows, cols, accumulate: m == 5);
            }
        }
    }

    // Random values (one all-zero block, one block with a single large outlier) quantized on the host with
    // the llama.cpp-compatible quantizer, moved to the backend; and the float64 dequantization of the bytes.
    private static (QuantizedTensor W, double[] WHat) GgmlBlockWeight(IBackend be, GgmlType type, Rng rng, int rows, int cols)
    {
        var data = Random(rng, rows * cols);
        int bv = BlockFormats.BlockValues(type);
        Array.Clear(data, 0, bv);
        if (rows > 1) data[cols + 3] = 40f;
        using var dense = Tensor.FromArray(data, new Shape(rows, cols));
        using var host = GgmlQuantizer.Quantize(dense, type, Device.Cpu);
        var wHat = ReferenceGgmlBlocks.Dequantize((int)type, host.Blocks.ToArray<byte>(), rows, cols);
        return (host.To(be.Device), wHat);
    }
}
