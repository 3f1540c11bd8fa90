using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Dequant-matmul of a ggml block-format weight: fused GEMV for decode, panel GEMM otherwise.</summary>
    private void GgmlBlockMatMul(Tensor x, GgmlBlockTensor w, Tensor y, bool transposeWeight, bool accumulate)
    {
        var s = QuantizedShapes.Validate(this, x, w, y, transposeWeight);
        if (s.M == 0) return;
        bool gemv = !transposeWeight && s.M <= QuantGemvMaxRows;
        BlockFormats.Visit(w.Type, new BlockProduct(w.Blocks.Pointer<byte>(), w.Rows, w.Columns,
            s.M, x.Pointer<float>(), s.K, y.Pointer<float>(), s.N, gemv, transposeWeight, accumulate));
    }

    /// <summary>
    /// y = x·Ŵᵀ with x quantized to Q8 blocks and integer block dots read straight from the GGUF bytes
    /// (<see cref="BlockQ8Matmul{T}"/>, no repacking); false when the CPU lacks AVX2.
    /// </summary>
    private bool GgmlBlockInt8Dot(Tensor x, GgmlBlockTensor w, Tensor y, bool accumulate)
    {
        var s = QuantizedShapes.Validate(this, x, w, y, transposeWeight: false);
        if (s.M == 0) return true;
        return BlockFormats.Visit(w.Type, new BlockInt8Dot(w.Blocks.Pointer<byte>(), w.Rows, w.Columns, s.M, x.Pointer<float>(), s.K, y.Pointer<float>(), s.N, accumulate));
    }

    /// <summary>Ŵ of a ggml block-format weight into F32 [out, in].</summary>
    private void GgmlBlockDequantize(GgmlBlockTensor w, Tensor destination)
    {
        QuantizedShapes.Destination(this, w, destination);
        BlockFormats.Visit(w.Type, new BlockDequantize(w.Blocks.Pointer<byte>(), w.Rows, w.Columns, destination.Pointer<float>()));
    }

    private readonly struct BlockProduct(byte* data, int rows, int cols, int m, float* x, int ldx, float* y, int ldy,
        bool gemv, bool transposeWeight, bool accumulate) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat
        {
            var w = BlockKernels<T>.View(rows, cols, data);
            if (gemv) BlockKernels<T>.Gemv(w, m, x, ldx, y, ldy, accumulate);
            else SimdQuantGemm.Blocks<T>(w, m, x, ldx, y, ldy, accumulate, transposeWeight);
            return true;
        }
    }

    private readonly struct BlockInt8Dot(byte* data, int rows, int cols, int m, float* x, int ldx, float* y, int ldy, bool accumulate)
        : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat =>
            BlockQ8Matmul<T>.Run(BlockKernels<T>.View(rows, cols, data), m, x, ldx, y, ldy, accumulate);
    }

    private readonly struct BlockDequantize(byte* data, int rows, int cols, float* dst) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat
        {
            BlockKernels<T>.Dequantize(BlockKernels<T>.View(rows, cols, data), dst);
            return true;
        }
    }
}
