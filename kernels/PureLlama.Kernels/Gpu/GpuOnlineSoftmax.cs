using ILGPU.Algorithms;

namespace PureLlama.Kernels.Gpu;

/// <summary>
/// One key of an online softmax (FlashAttention's running form), shared by the warp-per-row attention kernels: with the
/// running max m and sum l, a score s gives m' = max(m, s), α = e^(m − m'), p = e^(s − m'), l' = l·α + p; the caller
/// rescales its output accumulator by α and adds p·v.
/// </summary>
internal readonly struct GpuOnlineSoftmax(float max, float sum, float alpha, float weight)
{
    /// <summary>m' (the new running max).</summary>
    public float Max { get; } = max;
    /// <summary>l' (the new running sum).</summary>
    public float Sum { get; } = sum;
    /// <summary>α, the factor the accumulator is rescaled by.</summary>
    public float Alpha { get; } = alpha;
    /// <summary>p, the weight of this key's value.</summary>
    public float Weight { get; } = weight;

    /// <summary>The step for score <paramref name="s"/> after running max <paramref name="m"/> and sum <paramref name="l"/>.</summary>
    public static GpuOnlineSoftmax Next(float m, float l, float s)
    {
        float mNew = XMath.Max(m, s);
        float alpha = XMath.Exp(m - mNew), p = XMath.Exp(s - mNew);
        return new GpuOnlineSoftmax(mNew, l * alpha + p, alpha, p);
    }
}
