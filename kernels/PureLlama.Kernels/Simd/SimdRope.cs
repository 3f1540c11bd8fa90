using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Rotary position embedding, "rotate-half" layout (Hugging Face Llama): the head vector is split
/// into halves [x₁ | x₂] of h = headDim/2 and pair (x₁[i], x₂[i]) is rotated by θ = pos·invFreq[i].
/// x, y: [tokens, heads, headDim]; positions: [tokens]; cos, sin: [maxPos, h] (see RopeFrequencies).
/// <code>
/// y₁[i] = x₁[i]·cosθ − x₂[i]·sinθ
/// y₂[i] = x₂[i]·cosθ + x₁[i]·sinθ
/// </code>
/// inverse = true rotates by −θ, which is the backward (the rotation is orthogonal).
/// y may alias x (in place).
/// </summary>
public static unsafe class SimdRope
{
    /// <summary>Applies the rotation (or its inverse) to every head of every token.</summary>
    public static void Apply(float* x, float* y, int tokens, int heads, int headDim, int* positions, float* cos, float* sin, bool inverse)
    {
        int h = headDim / 2;
        ParallelWork.Rows(tokens, (long)heads * headDim, (t0, t1) =>
        {
            for (int t = t0; t < t1; t++)
            {
                float* c = cos + (long)positions[t] * h;
                float* s = sin + (long)positions[t] * h;
                for (int hd = 0; hd < heads; hd++)
                {
                    long b = ((long)t * heads + hd) * headDim;
                    Rotate(x + b, y + b, h, c, s, inverse);
                }
            }
        });
    }

    private static void Rotate(float* x, float* y, int h, float* c, float* s, bool inverse)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= h - 16; i += 16)
            {
                Vector512<float> x1 = Vector512.Load(x + i), x2 = Vector512.Load(x + h + i);
                Vector512<float> vc = Vector512.Load(c + i), vs = Vector512.Load(s + i);
                if (inverse) vs = -vs;
                Vector512.Store(x1 * vc - x2 * vs, y + i);
                Vector512.Store(x2 * vc + x1 * vs, y + h + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= h - 8; i += 8)
            {
                Vector256<float> x1 = Vector256.Load(x + i), x2 = Vector256.Load(x + h + i);
                Vector256<float> vc = Vector256.Load(c + i), vs = Vector256.Load(s + i);
                if (inverse) vs = -vs;
                Vector256.Store(x1 * vc - x2 * vs, y + i);
                Vector256.Store(x2 * vc + x1 * vs, y + h + i);
            }
        }
        for (; i < h; i++)
        {
            float a = x[i], b = x[h + i], cc = c[i], ss = inverse ? -s[i] : s[i];
            y[i] = a * cc - b * ss;
            y[h + i] = b * cc + a * ss;
        }
    }
}
