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

    /// <summary>
    /// y_i = x·Ŵ_iᵀ for several quantized weights that read the same x, under one fork with x quantized once where the
    /// layouts allow (<see cref="Kernels.Blocks.BlockTiledMatmul.RunMany"/> for ggml blocks, <see cref="Int8TiledMatmul.RunMany"/>
    /// for INT8/NF4/INT4; each y_i bitwise what <see cref="TryInt8DotMatMul"/> gives alone). False, with nothing written,
    /// unless every Ŵ_i has tiles of the same family here and the fast path is on.
    /// </summary>
    internal bool TryInt8DotMatMulMany(Tensor x, IReadOnlyList<QuantizedTensor> ws, IReadOnlyList<Tensor> ys)
    {
        if (QuantizedInference.ExactDequant || ws.Count != ys.Count || ws.Count == 0) return false;
        var blockProducts = new Kernels.Blocks.TiledProduct[ws.Count];
        var int8Products = new Int8TiledProduct[ws.Count];
        int m = -1, blocks = 0;
        for (int i = 0; i < ws.Count; i++)
        {
            int mi;
            switch (Packed(ws[i]))
            {
                case Kernels.Blocks.BlockTiles tiles when ws[i] is GgmlBlockTensor:
                    mi = QuantizedShapes.Validate(this, x, ws[i], ys[i], transposeWeight: false).M;
                    blockProducts[i] = new Kernels.Blocks.TiledProduct(tiles, x.Pointer<float>(), ws[i].Columns, ys[i].Pointer<float>(), ws[i].Rows, accumulate: false);
                    blocks++;
                    break;
                case Int8TiledWeights tiles:
                    mi = ws[i] is Int4GroupTensor g ? Int4GroupShapes.Validate(this, x, g, ys[i], transposeWeight: false)
                       : QuantizedShapes.Validate(this, x, ws[i], ys[i], transposeWeight: false).M;
                    int8Products[i] = new Int8TiledProduct(tiles, x.Pointer<float>(), ws[i].Columns, ys[i].Pointer<float>(), ws[i].Rows, accumulate: false);
                    break;
                default:
                    return false;
            }
            if (m >= 0 && mi != m) return false;
            m = mi;
        }
        if (blocks == ws.Count) Kernels.Blocks.BlockTiledMatmul.RunMany(blockProducts, m);
        else if (blocks == 0) Int8TiledMatmul.RunMany(int8Products, m);
        else return false;
        return true;
    }

    /// <summary>Whether Ŵ's products take the int8 dot-product tiles here now (fast path on, a CPU weight, a tiled layout).</summary>
    internal static bool MultipliesFromTiles(QuantizedTensor w) =>
        !QuantizedInference.ExactDequant && w.Device.Kind == DeviceKind.Cpu && Packed(w) is not null;

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
