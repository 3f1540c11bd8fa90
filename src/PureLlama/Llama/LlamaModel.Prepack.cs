using PureLlama.Compute;
using PureLlama.Nn;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Repacks a quantized projection for the CPU int8 dot-product kernels as it is loaded (multi-threaded;
    /// docs/kernels/int8-dot.md), so the first product does not pay for it. Nothing happens on other devices
    /// or with <see cref="QuantizedInference.ExactDequant"/>.
    /// </summary>
    internal static void Prepack(ILinear layer)
    {
        if (layer is QuantLinear q && !QuantizedInference.ExactDequant && Backends.Get(q.Weight.Device) is CpuBackend cpu)
            cpu.Prepack(q.Weight);
    }
}
