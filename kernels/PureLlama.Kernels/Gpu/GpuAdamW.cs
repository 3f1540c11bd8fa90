// AdamW step with decoupled weight decay (GPU form of AdamW in docs/kernels/contracts.md).
//
// Math, step t ≥ 1: m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//   m̂ = m/(1−β1ᵗ);  v̂ = v/(1−β2ᵗ);  p −= lr·(wd·p + m̂/(√v̂ + ε)).
// The bias corrections 1/(1−βᵗ) are computed once on the host in float64.
// Thread mapping: grid-stride loop, one parameter per thread per step; p, m, v updated in place.
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>AdamW hyper-parameters of one step, passed to the kernel as a value.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct AdamWStepParams
{
    /// <summary>Learning rate, β1, β2, ε, weight decay, 1/(1−β1ᵗ), 1/(1−β2ᵗ).</summary>
    public readonly float Lr, Beta1, Beta2, Eps, WeightDecay, InvBias1, InvBias2;

    /// <summary>Builds the parameters of step <paramref name="t"/> (≥ 1).</summary>
    public AdamWStepParams(float lr, float beta1, float beta2, float eps, float weightDecay, int t)
    {
        Lr = lr; Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay;
        InvBias1 = (float)(1.0 / (1.0 - Math.Pow(beta1, t)));
        InvBias2 = (float)(1.0 / (1.0 - Math.Pow(beta2, t)));
    }
}

/// <summary>AdamW optimizer step on ILGPU (F32 parameters and states).</summary>
internal static class GpuAdamW
{
    /// <summary>One AdamW step over n parameters: p, m, v updated in place from g.</summary>
    public static void Step(AcceleratorStream stream, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, long n,
        float lr, float beta1, float beta2, float eps, float weightDecay, int t)
    {
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(t), t, "AdamW step t must be ≥ 1.");
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, AdamWStepParams>(StepKernel)
            (stream, k.Stride(n), p, g, m, v, n, new AdamWStepParams(lr, beta1, beta2, eps, weightDecay, t));
    }

    [GpuKernel]
    internal static void StepKernel(ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, long n, AdamWStepParams h)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = (long)Grid.IdxX * Group.DimX + Group.IdxX; i < n; i += stride)
        {
            float gi = g[i];
            float mi = h.Beta1 * m[i] + (1f - h.Beta1) * gi;
            float vi = h.Beta2 * v[i] + (1f - h.Beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            float pi = p[i];
            p[i] = pi - h.Lr * (h.WeightDecay * pi + mi * h.InvBias1 / (XMath.Sqrt(vi * h.InvBias2) + h.Eps));
        }
    }
}
