using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Training;

// Merging: W' = Ŵ + s·B·A into a dense F32 layer. Ŵ is the base as F32: a dense weight widened, or a
// quantized weight dequantized (peft #2105: merge into the dequantized weights, never into 4-bit
// codes; re-quantizing the merged layer is the caller's choice).
public sealed partial class LoraAdapter
{
    /// <summary>
    /// Replaces every wrapped module by a dense F32 <see cref="Linear"/> with W' = Ŵ + s·B·A, releases the
    /// base layers and the adapter weights, and leaves the adapter detached (the model no longer has one).
    /// </summary>
    public void Merge()
    {
        ThrowIfDetached();
        using var _ = GradMode.NoGrad();
        foreach (var (name, layer) in _layers)
        {
            var merged = MergedWeight(layer);
            merged.Name = name + ".weight";
            Model.ReplaceLinear(name, new Linear(merged));
            layer.Dispose();                                            // A, B and the base
        }
        MarkDetached();
    }

    /// <summary>W' = Ŵ + s·B·A: [out, in] F32 on the layer's device (the layer is left unchanged).</summary>
    public static Tensor MergedWeight(LoraLinear layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var w = DenseF32(layer.Base, layer.A.Device);                                   // [out, in]
        using var sb = Tensor.Empty(layer.B.Shape, DType.F32, layer.B.Device);  // [out, r]
        w.Backend.Scale(layer.B, layer.Scaling, sb);
        w.Backend.MatMul(sb, layer.A, w, transA: false, transB: false, accumulate: true);
        return w;
    }

    /// <summary>
    /// Ŵ of any linear layer as a new F32 [out, in] tensor: a dense weight widened; a quantized weight
    /// (<see cref="QuantLinear"/>) through <see cref="Compute.IBackend.Dequantize"/>; any other
    /// layer by forwarding the identity on <paramref name="device"/> (exact for a layer that is x·Ŵᵀ).
    /// </summary>
    public static Tensor DenseF32(ILinear linear, Device device)
    {
        ArgumentNullException.ThrowIfNull(linear);
        using var _ = GradMode.NoGrad();
        if (linear is Linear dense) return dense.Weight.To(DType.F32);
        if (linear is LoraLinear lora) return MergedWeight(lora);
        if (linear is QuantLinear quantized)
        {
            var w = Tensor.Empty(new Shape(linear.OutFeatures, linear.InFeatures), DType.F32, quantized.Weight.Device);
            w.Backend.Dequantize(quantized.Weight, w);
            return w;
        }
        // x = I [in, in] → y = Ŵᵀ [in, out]; transpose to [out, in].
        int inF = linear.InFeatures, outF = linear.OutFeatures;
        var eye = new float[(long)inF * inF];
        for (int i = 0; i < inF; i++) eye[(long)i * inF + i] = 1f;
        using var x = Tensor.FromArray(eye, new Shape(inF, inF), device);
        using var yt = linear.Forward(x);
        using var view = yt.TransposeView(0, 1);
        return view.ContiguousCopy();
    }
}
