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
    /// y = x·Ŵᵀ with x quantized to Q8 blocks and integer dots: over the weight's 16-row tiles (<paramref name="tiles"/>,
    /// made once by <see cref="GgmlBlockTiles"/>; Q8_0 in <see cref="Int8TiledMatmul"/>, Q4_0/Q4_K/Q6_K in
    /// <see cref="BlockTiledMatmul"/>), else read straight from the GGUF bytes (<see cref="BlockQ8Matmul{T}"/>);
    /// false when the CPU has neither path (no AVX2).
    /// </summary>
    private bool GgmlBlockInt8Dot(Tensor x, GgmlBlockTensor w, IDisposable? tiles, Tensor y, bool accumulate)
    {
        var s = QuantizedShapes.Validate(this, x, w, y, transposeWeight: false);
        if (s.M == 0) return true;
        switch (tiles)
        {
            case Int8TiledWeights t: Int8TiledMatmul.Run(t, s.M, x.Pointer<float>(), s.K, y.Pointer<float>(), s.N, accumulate); return true;
            case BlockTiles k: BlockTiledMatmul.Run(k, s.M, x.Pointer<float>(), s.K, y.Pointer<float>(), s.N, accumulate); return true;
        }
        return BlockFormats.Visit(w.Type, new BlockInt8Dot(w.Blocks.Pointer<byte>(), w.Rows, w.Columns, s.M, x.Pointer<float>(), s.K, y.Pointer<float>(), s.N, accumulate));
    }

    /// <summary>
    /// The 16-row int8-dot tiles of a block-format weight (a second copy of its codes, made once), where a tiled kernel
    /// runs (AVX-512BW; AVX2 for Q4_0 and Q8_0); null elsewhere (the row-direct <see cref="BlockQ8Matmul{T}"/> is used).
    /// </summary>
    private static IDisposable? GgmlBlockTiles(GgmlBlockTensor w) =>
        BlockTiledMatmul.HasSimdKernel(w.Type) && w.Device.Kind == DeviceKind.Cpu
            ? BlockTileRepack.From(w.Type, new BlockMatrix(w.Rows, w.Columns, w.Blocks.Pointer<byte>(), BlockFormats.BlockValues(w.Type), BlockFormats.BlockBytes(w.Type)))
            : null;

    /// <summary>
    /// Whether block-format weights on the CPU are multiplied over their tiles now (the fast path on, tiles available): the
    /// stored blocks then serve only the exact path, LoRA's transposed product, export and embedding rows, not the decode sweep.
    /// </summary>
    internal static bool MultipliesGgmlBlocksFromTiles(GgmlType type) => BlockTiledMatmul.HasSimdKernel(type) && !QuantizedInference.ExactDequant;

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
