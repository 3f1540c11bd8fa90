using PureLlama.Kernels.Simd;
using PureLlama.Tensors;

namespace PureLlama.Compute;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// Below this many rows the fused SIMD LoRA kernels run (decode, short prompts); from here on the four
    /// products go through the register-blocked GEMM, which measured several times faster at training
    /// shapes (docs/kernels/lora.md).
    /// </summary>
    internal const int LoraGemmRows = 64;

    /// <inheritdoc/>
    public void LoraForward(Tensor x, Tensor a, Tensor b, float scale, Tensor h, Tensor y)
    {
        var (m, inF, outF, r) = LoraChecks.Forward(this, x, a, b, h, y);
        if (m == 0) return;
        if (m >= LoraGemmRows)
        {
            MatMul(x, a, h, transA: false, transB: true, accumulate: false);   // h = x·Aᵀ   [m, r]
            Scale(h, scale, h);                                                 // h = s·x·Aᵀ
            MatMul(h, b, y, transA: false, transB: true, accumulate: true);    // y += h·Bᵀ  [m, out]
            return;
        }
        SimdLora.Forward(x.Pointer<float>(), a.Pointer<float>(), b.Pointer<float>(), scale, h.Pointer<float>(), y.Pointer<float>(), m, inF, outF, r);
    }

    /// <inheritdoc/>
    public void LoraBackward(Tensor dy, Tensor x, Tensor a, Tensor b, Tensor h, float scale, Tensor g, Tensor? dx, Tensor dA, Tensor dB)
    {
        var (m, inF, outF, r) = LoraChecks.Backward(this, dy, x, a, b, h, g, dx, dA, dB);
        if (m >= LoraGemmRows)
        {
            MatMul(dy, b, g, transA: false, transB: false, accumulate: false);  // g = dY·B    [m, r]
            Scale(g, scale, g);                                                 // g = s·dY·B
            if (dx is not null) MatMul(g, a, dx, transA: false, transB: false, accumulate: false); // dx = g·A [m, in]
            MatMul(g, x, dA, transA: true, transB: false, accumulate: false);   // dA = gᵀ·x   [r, in]
            MatMul(dy, h, dB, transA: true, transB: false, accumulate: false);  // dB = dYᵀ·h  [out, r]
            return;
        }
        SimdLora.Backward(dy.Pointer<float>(), x.Pointer<float>(), a.Pointer<float>(), b.Pointer<float>(), h.Pointer<float>(), scale,
            g.Pointer<float>(), dx is null ? null : dx.Pointer<float>(), dA.Pointer<float>(), dB.Pointer<float>(), m, inF, outF, r);
    }
}
