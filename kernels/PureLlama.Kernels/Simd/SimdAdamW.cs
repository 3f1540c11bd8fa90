using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// One AdamW step (decoupled weight decay, bias-corrected moments), fused over n parameters.
/// p, g, m, v: [n]; step t ≥ 1.
/// <code>
/// m = β1·m + (1 − β1)·g
/// v = β2·v + (1 − β2)·g²
/// m̂ = m/(1 − β1ᵗ),  v̂ = v/(1 − β2ᵗ)
/// p = p − lr·(wd·p + m̂/(√v̂ + ε))
/// </code>
/// The bias corrections are computed once in double. Each element is independent, so the result
/// does not depend on the thread split.
/// </summary>
public static unsafe class SimdAdamW
{
    /// <summary>Updates p, m, v in place.</summary>
    public static void Step(float* p, float* g, float* m, float* v, long n, float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        float c1 = (float)(1.0 / (1.0 - Math.Pow(beta1, step)));
        float c2 = (float)(1.0 / (1.0 - Math.Pow(beta2, step)));
        float a1 = 1f - beta1, a2 = 1f - beta2;
        ParallelWork.For(n, (s, e) =>
        {
            long i = s;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<float> vb1 = Vector512.Create(beta1), va1 = Vector512.Create(a1), vb2 = Vector512.Create(beta2), va2 = Vector512.Create(a2);
                Vector512<float> vc1 = Vector512.Create(c1), vc2 = Vector512.Create(c2), veps = Vector512.Create(eps);
                Vector512<float> vlr = Vector512.Create(lr), vwd = Vector512.Create(weightDecay);
                for (; i <= e - 16; i += 16)
                {
                    Vector512<float> gi = Vector512.Load(g + i), pi = Vector512.Load(p + i);
                    var mi = vb1 * Vector512.Load(m + i) + va1 * gi;
                    var vi = vb2 * Vector512.Load(v + i) + va2 * gi * gi;
                    Vector512.Store(mi, m + i);
                    Vector512.Store(vi, v + i);
                    var upd = vwd * pi + mi * vc1 / (Vector512.Sqrt(vi * vc2) + veps);
                    Vector512.Store(pi - vlr * upd, p + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> vb1 = Vector256.Create(beta1), va1 = Vector256.Create(a1), vb2 = Vector256.Create(beta2), va2 = Vector256.Create(a2);
                Vector256<float> vc1 = Vector256.Create(c1), vc2 = Vector256.Create(c2), veps = Vector256.Create(eps);
                Vector256<float> vlr = Vector256.Create(lr), vwd = Vector256.Create(weightDecay);
                for (; i <= e - 8; i += 8)
                {
                    Vector256<float> gi = Vector256.Load(g + i), pi = Vector256.Load(p + i);
                    var mi = vb1 * Vector256.Load(m + i) + va1 * gi;
                    var vi = vb2 * Vector256.Load(v + i) + va2 * gi * gi;
                    Vector256.Store(mi, m + i);
                    Vector256.Store(vi, v + i);
                    var upd = vwd * pi + mi * vc1 / (Vector256.Sqrt(vi * vc2) + veps);
                    Vector256.Store(pi - vlr * upd, p + i);
                }
            }
            for (; i < e; i++)
            {
                float gi = g[i];
                float mi = beta1 * m[i] + a1 * gi;
                float vi = beta2 * v[i] + a2 * gi * gi;
                m[i] = mi;
                v[i] = vi;
                p[i] -= lr * (weightDecay * p[i] + mi * c1 / (MathF.Sqrt(vi * c2) + eps));
            }
        });
    }
}
