using PureLlama.Autograd;
using PureLlama.Autograd.Functions;
using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// Several linear layers applied to the same input (q/k/v, gate/up). In inference on the CPU, when every layer is a
/// <see cref="QuantLinear"/> whose weight has int8 dot-product tiles of one family (ggml blocks, or INT8/NF4/INT4), the
/// products run under one fork with the input quantized once (no join between them; each output bitwise what the layer's
/// own Forward gives); otherwise each layer runs alone.
/// </summary>
internal static class LinearGroup
{
    /// <summary>layers[i].Forward(x) for every i (the caller disposes the outputs).</summary>
    public static Tensor[] Forward(Tensor x, params ILinear[] layers)
    {
        if (QuantizedWeights(x, layers) is { } weights && x.Backend is CpuBackend cpu)
        {
            var outputs = new Tensor[layers.Length];
            try
            {
                for (int i = 0; i < layers.Length; i++) outputs[i] = QuantLinearFunction.Output(x, weights[i]);
                if (cpu.TryInt8DotMatMulMany(x, weights, outputs)) return outputs;
            }
            catch { foreach (var o in outputs) o?.Dispose(); throw; }
            foreach (var o in outputs) o.Dispose();
        }
        var each = new Tensor[layers.Length];
        try { for (int i = 0; i < layers.Length; i++) each[i] = layers[i].Forward(x); }
        catch { foreach (var o in each) o?.Dispose(); throw; }
        return each;
    }

    // The layers' quantized weights when the group may run together (inference, contiguous F32 x on the CPU, every layer
    // a QuantLinear over ggml blocks, INT8, NF4 or INT4 groups reading x's width), else null. Whether their tiles exist
    // and are of one family, CpuBackend.TryInt8DotMatMulMany decides, writing nothing when they are not.
    private static QuantizedTensor[]? QuantizedWeights(Tensor x, ILinear[] layers)
    {
        if (GradMode.IsEnabled || x.Device != Device.Cpu || !x.IsContiguous || x.DType != DType.F32 || x.Rank < 1) return null;
        var weights = new QuantizedTensor[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            if (layers[i] is not QuantLinear { Weight: GgmlBlockTensor or Int8Tensor or Nf4Tensor or Int4GroupTensor } q || q.Weight.Columns != x.Shape[-1]) return null;
            var w = q.Weight;
            weights[i] = w;
        }
        return weights;
    }
}
