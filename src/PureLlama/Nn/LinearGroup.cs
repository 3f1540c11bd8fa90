using PureLlama.Autograd;
using PureLlama.Autograd.Functions;
using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// Several linear layers applied to the same input (q/k/v, gate/up). In inference on the CPU, when every layer is a
/// ggml block-format <see cref="QuantLinear"/>, the products run under one fork with the input quantized once
/// (no join between them; each output bitwise what the layer's own Forward gives); otherwise each layer runs alone.
/// </summary>
internal static class LinearGroup
{
    /// <summary>layers[i].Forward(x) for every i (the caller disposes the outputs).</summary>
    public static Tensor[] Forward(Tensor x, params ILinear[] layers)
    {
        if (BlockWeights(x, layers) is { } weights && x.Backend is CpuBackend cpu)
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

    // The layers' block-format weights when the group can run together (inference, contiguous F32 x on the CPU, every
    // layer a QuantLinear over ggml blocks reading x's width), else null.
    private static QuantizedTensor[]? BlockWeights(Tensor x, ILinear[] layers)
    {
        if (GradMode.IsEnabled || x.Device != Device.Cpu || !x.IsContiguous || x.DType != DType.F32 || x.Rank < 1) return null;
        var weights = new QuantizedTensor[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            if (layers[i] is not QuantLinear { Weight: GgmlBlockTensor w } || w.Columns != x.Shape[-1]) return null;
            weights[i] = w;
        }
        return weights;
    }
}
