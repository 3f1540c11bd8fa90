using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// y = x·Ŵᵀ through the int8 dot-product kernels (activations quantized to Q8 blocks, Ŵ repacked once into
    /// 16-row tiles); false when Ŵ's layout has no tiled form (NF4 blocks crossing rows, irregular INT4 groups)
    /// or the fast path is switched off, and the caller takes the exact path.
    /// </summary>
    internal bool TryInt8DotMatMul(Tensor x, QuantizedTensor w, Tensor y, bool accumulate)
    {
        if (QuantizedInference.ExactDequant) return false;
        var packed = Packed(w);
        if (w is GgmlBlockTensor blocks) return GgmlBlockInt8Dot(x, blocks, packed, y, accumulate);
        if (packed is not Int8TiledWeights tiles) return false;
        int m;
        if (w is Int4GroupTensor g) m = Int4GroupShapes.Validate(this, x, g, y, transposeWeight: false);
        else m = QuantizedShapes.Validate(this, x, w, y, transposeWeight: false).M;
        if (m == 0) return true;
        Int8TiledMatmul.Run(tiles, m, x.Pointer<float>(), w.Columns, y.Pointer<float>(), w.Rows, accumulate);
        return true;
    }

    /// <summary>Repacks Ŵ for the int8 dot-product kernels now (at load) rather than on its first product.</summary>
    internal void Prepack(QuantizedTensor w)
    {
        if (w.Device.Kind == DeviceKind.Cpu) Packed(w);
    }

    private static IDisposable? Packed(QuantizedTensor w) => w.HostPacked<IDisposable>(q => q switch
    {
        GgmlBlockTensor g => GgmlBlockTiles(g),
        Int8Tensor i8 => Int8TiledRepack.FromInt8(View(i8)),
        Nf4Tensor nf4 => Int8TiledRepack.FromNf4(View(nf4)),
        Int4GroupTensor int4 => Int8TiledRepack.FromInt4(Int4GroupView(int4)),
        _ => null,
    });
}
