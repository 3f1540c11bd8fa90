using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <summary>Dequant-matmul of a ggml block-format weight (warp-per-row GEMV for m ≤ 4, tiled GEMM otherwise).</summary>
    private void GgmlBlockMatMul(Tensor x, GgmlBlockTensor w, Tensor y, bool transposeWeight, bool accumulate)
    {
        var s = QuantizedShapes.Validate(this, x, w, y, transposeWeight);
        if (s.M == 0) return;
        BlockFormats.Visit(w.Type, new BlockProduct(Stream, DeviceWeight(w), F(x), F(y), s.M, transposeWeight, accumulate));
    }

    /// <summary>Ŵ of a ggml block-format weight into F32 [out, in].</summary>
    private void GgmlBlockDequantize(GgmlBlockTensor w, Tensor destination)
    {
        QuantizedShapes.Destination(this, w, destination);
        BlockFormats.Visit(w.Type, new BlockDequantize(Stream, DeviceWeight(w), F(destination)));
    }

    private static GgmlBlockDeviceWeight DeviceWeight(GgmlBlockTensor w) => new(w.Rows, w.Columns, Bytes(w.Blocks));

    private readonly struct BlockProduct(AcceleratorStream stream, GgmlBlockDeviceWeight w, ArrayView<float> x, ArrayView<float> y,
        int m, bool transposeWeight, bool accumulate) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat
        {
            GpuQuantizedMatmul.Blocks<T>(stream, w, x, y, m, transposeWeight, accumulate);
            return true;
        }
    }

    private readonly struct BlockDequantize(AcceleratorStream stream, GgmlBlockDeviceWeight w, ArrayView<float> dst) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat
        {
            GpuQuantizedMatmul.DequantizeBlocks<T>(stream, w, dst);
            return true;
        }
    }
}
