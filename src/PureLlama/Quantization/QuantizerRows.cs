using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// A weight [rows, cols]'s values as F32 for a row-wise quantizer, a chunk of rows at a time. A contiguous host weight
/// is read in place (F32) or widened chunk by chunk into one reused buffer (BF16/F16), so quantizing on load never
/// stages the whole matrix in F32: a 1B model's tied head is 1 GB of F32, whose fresh pages cost seconds per GiB to fault
/// in on a shared machine. Any other weight (device, strided) is staged whole, as before.
/// </summary>
internal static unsafe class QuantizerRows
{
    /// <summary>F32 values per chunk (8 MiB: stays in the L2/L3-friendly range and is cheap to reuse).</summary>
    private const long ChunkValues = 2L << 20;

    /// <summary>Calls body(firstRow, rowCount, values) over [0, rows) in order; values is [rowCount, cols] row-major, valid during the call.</summary>
    public static void ForChunks(Tensor weight, Action<int, int, nint> body)
    {
        int rows = weight.Shape[0], cols = weight.Shape[1];
        if (weight.Storage is not HostStorage || !weight.IsContiguous)
        {
            var all = weight.ToFloatArray();
            fixed (float* p = all) body(0, rows, (nint)p);
            return;
        }
        if (weight.DType == DType.F32) { body(0, rows, (nint)weight.Pointer<float>()); return; }
        int chunkRows = (int)Math.Clamp(ChunkValues / cols, 1, rows);
        var buffer = new float[(long)chunkRows * cols];
        fixed (float* f = buffer)
            for (int r0 = 0; r0 < rows; r0 += chunkRows)
            {
                int n = Math.Min(chunkRows, rows - r0);
                ushort* src = weight.Pointer<ushort>() + (long)r0 * cols;
                if (weight.DType == DType.BF16) SimdFloatConvert.Bf16ToF32(src, f, (long)n * cols);
                else SimdFloatConvert.F16ToF32(src, f, (long)n * cols);
                body(r0, n, (nint)f);
            }
    }
}
