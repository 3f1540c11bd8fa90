using PureLlama.Compute;
using PureLlama.Nn;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    /// <summary>
    /// Repacks a quantized projection for the int8 dot-product kernels as it is loaded (CPU tiles, multi-threaded; the GPU's
    /// INT4 dp4a layout; docs/kernels/int8-dot.md), so the first product does not pay for it. Nothing happens with
    /// <see cref="QuantizedInference.ExactDequant"/>.
    /// </summary>
    internal static void Prepack(ILinear layer)
    {
        if (layer is not QuantLinear q || QuantizedInference.ExactDequant) return;
        switch (Backends.Get(q.Weight.Device))
        {
            case CpuBackend cpu: cpu.Prepack(q.Weight); break;
            case IlgpuBackend gpu: gpu.Prepack(q.Weight); break;
        }
    }
}
