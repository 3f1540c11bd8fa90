using PureLlama.Tensors;
using SimdLora = PureLlama.Kernels.Simd.Lora;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <inheritdoc/>
    public void LoraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y)
    {
        var (m, inF, outF, r) = LoraChecks.Forward(this, x, a, b, h, y);
        if (m == 0) return;
        SimdLora.Forward(x.Pointer<float>(), a.Pointer<float>(), b.Pointer<float>(), scale, h.Pointer<float>(), y.Pointer<float>(), m, inF, outF, r);
    }

    /// <inheritdoc/>
    public void LoraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, Tensor h, float scale, Tensor g, Tensor? dx, Tensor dA, Tensor dB)
    {
        var (m, inF, outF, r) = LoraChecks.Backward(this, dy, x, a, b, h, g, dx, dA, dB);
        SimdLora.Backward(dy.Pointer<float>(), x.Pointer<float>(), a.Pointer<float>(), b.Pointer<float>(), h.Pointer<float>(), scale,
            g.Pointer<float>(), dx is null ? null : dx.Pointer<float>(), dA.Pointer<float>(), dB.Pointer<float>(), m, inF, outF, r);
    }
}
