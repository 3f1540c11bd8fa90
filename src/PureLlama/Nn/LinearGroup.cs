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
    // a QuantLinear reading x's width whose products take the int8 tiles now), else null — checked before any output is
    // allocated, so the exact path and untiled layouts cost nothing here. Tiles of mixed families (ggml blocks beside
    // INT8/NF4/INT4) are refused by CpuBackend.TryInt8DotMatMulMany, which then writes nothing.
    private static QuantizedTensor[]? QuantizedWeights(Tensor x, ILinear[] layers)
    {
        if (GradMode.IsEnabled || x.Device != Device.Cpu || !x.IsContiguous || x.DType != DType.F32 || x.Rank < 1) return null;
        var weights = new QuantizedTensor[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            if (layers[i] is not QuantLinear { Weight: var w } || w.Columns != x.Shape[-1] || !CpuBackend.MultipliesFromTiles(w)) return null;
            weights[i] = w;
        }
        return weights;
    }
}
