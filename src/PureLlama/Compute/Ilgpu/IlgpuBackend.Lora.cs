using PureLlama.Kernels.Gpu;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public void LoraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y)
    {
        var (m, inF, outF, r) = LoraChecks.Forward(this, x, a, b, h, y);
        if (m == 0) return;
        GpuLora.Forward(Stream, F(x), F(a), F(b), scale, F(h), F(y), m, inF, outF, r);
    }

    /// <inheritdoc/>
    public void LoraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, Tensor h, float scale, Tensor g, Tensor? dx, Tensor dA, Tensor dB)
    {
        var (m, inF, outF, r) = LoraChecks.Backward(this, dy, x, a, b, h, g, dx, dA, dB);
        if (m == 0) { Fill(dA, 0f); Fill(dB, 0f); return; }
        GpuLora.Backward(Stream, F(dy), F(x), F(a), F(b), F(h), scale, F(g), dx is null ? default : F(dx), F(dA), F(dB), m, inF, outF, r);
    }
}
