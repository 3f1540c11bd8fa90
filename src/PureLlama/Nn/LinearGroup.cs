using PureLlama.Autograd;
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
        if (!GradMode.IsEnabled && x.Backend is CpuBackend cpu && x.IsContiguous && x.DType == DType.F32 && x.Rank >= 1
            && layers.All(l => l is QuantLinear { Weight: GgmlBlockTensor } q && q.InFeatures == x.Shape[-1]))
        {
            var weights = layers.Select(l => ((QuantLinear)l).Weight).ToArray();
            var outputs = new Tensor[layers.Length];
            try
            {
                for (int i = 0; i < layers.Length; i++)
                {
                    var dims = x.Shape.ToArray();
                    dims[^1] = weights[i].Rows;
                    outputs[i] = Tensor.Empty(new Shape(dims), DType.F32, x.Device);
                }
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
}
