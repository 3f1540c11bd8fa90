using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// One AdamW step with 8-bit block-wise quantized moments (bitsandbytes' 8-bit Adam), fused per block
/// of <see cref="BlockSize"/> parameters. p, g: F32 [n]; mq, vq: U8 codes [n]; mAbs, vAbs: F32
/// [⌈n/256⌉] block absmax; codes index <see cref="DynamicMap.Signed"/> (m) and
/// <see cref="DynamicMap.Unsigned"/> (v).
/// <code>
/// m = β1·(Sm[mq]·mAbs) + (1 − β1)·g          v = β2·(Su[vq]·vAbs) + (1 − β2)·g²
/// p = p − lr·(wd·p + m·c1/(√(v·c2) + ε)),    c1 = 1/(1 − β1ᵗ), c2 = 1/(1 − β2ᵗ)
/// mAbs' = max|m| over the block,  mq' = nearest code of m/mAbs' (vAbs', vq' likewise; 0 when the block is 0)
/// </code>
/// The update uses the fresh F32 moments; only their stored form is quantized. Blocks are
/// independent, so the result does not depend on the thread split. The table look-ups and the
/// code search are scalar; the arithmetic runs in Vector256 lanes.
/// </summary>
public static unsafe class SimdAdamW8bit
{
    /// <summary>Parameters per quantization block (one F32 absmax per block and moment).</summary>
    public const int BlockSize = 256;

    /// <summary>Number of blocks for n parameters.</summary>
    public static long Blocks(long n) => (n + BlockSize - 1) / BlockSize;

    /// <summary>Updates p, the codes and the absmaxes in place.</summary>
    public static void Step(float* p, float* g, byte* mq, float* mAbs, byte* vq, float* vAbs, long n,
        float lr, float beta1, float beta2, float eps, float weightDecay, int step)
    {
        float c1 = (float)(1.0 / (1.0 - Math.Pow(beta1, step)));
        float c2 = (float)(1.0 / (1.0 - Math.Pow(beta2, step)));
        long blocks = Blocks(n);
        ParallelWork.ForItems(blocks, BlockSize, (b0, b1) =>
        {
            float* m = stackalloc float[BlockSize];
            float* v = stackalloc float[BlockSize];
            fixed (float* sm = DynamicMap.Signed, um = DynamicMap.Unsigned)
                for (long b = b0; b < b1; b++)
                {
                    long s = b * BlockSize;
                    int len = (int)Math.Min(BlockSize, n - s);
                    Block(p + s, g + s, mq + s, mAbs + b, vq + s, vAbs + b, len, m, v, sm, um, lr, beta1, beta2, eps, weightDecay, c1, c2);
                }
        });
    }

    private static void Block(float* p, float* g, byte* mq, float* mAbs, byte* vq, float* vAbs, int len, float* m, float* v, float* sm, float* um,
        float lr, float beta1, float beta2, float eps, float wd, float c1, float c2)
    {
        float am = *mAbs, av = *vAbs;
        for (int i = 0; i < len; i++) { m[i] = sm[mq[i]] * am; v[i] = um[vq[i]] * av; }   // dequantize
        float a1 = 1f - beta1, a2 = 1f - beta2, maxM = 0f, maxV = 0f;
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vb1 = Vector256.Create(beta1), va1 = Vector256.Create(a1), vb2 = Vector256.Create(beta2), va2 = Vector256.Create(a2);
            Vector256<float> vc1 = Vector256.Create(c1), vc2 = Vector256.Create(c2), veps = Vector256.Create(eps), vlr = Vector256.Create(lr), vwd = Vector256.Create(wd);
            Vector256<float> mx = Vector256<float>.Zero, vx = Vector256<float>.Zero;
            for (; j <= len - 8; j += 8)
            {
                Vector256<float> gi = Vector256.Load(g + j), pi = Vector256.Load(p + j);
                var mi = vb1 * Vector256.Load(m + j) + va1 * gi;
                var vi = vb2 * Vector256.Load(v + j) + va2 * gi * gi;
                Vector256.Store(mi, m + j);
                Vector256.Store(vi, v + j);
                mx = Vector256.Max(mx, Vector256.Abs(mi));
                vx = Vector256.Max(vx, vi);
                Vector256.Store(pi - vlr * (vwd * pi + mi * vc1 / (Vector256.Sqrt(vi * vc2) + veps)), p + j);
            }
            for (int k = 0; k < 8; k++) { maxM = MathF.Max(maxM, mx.GetElement(k)); maxV = MathF.Max(maxV, vx.GetElement(k)); }
        }
        for (; j < len; j++)
        {
            float gi = g[j], pi = p[j];
            float mi = beta1 * m[j] + a1 * gi;
            float vi = beta2 * v[j] + a2 * gi * gi;
            m[j] = mi; v[j] = vi;
            maxM = MathF.Max(maxM, MathF.Abs(mi));
            maxV = MathF.Max(maxV, vi);
            p[j] = pi - lr * (wd * pi + mi * c1 / (MathF.Sqrt(vi * c2) + eps));
        }
        *mAbs = maxM;
        *vAbs = maxV;
        var ts = DynamicMap.SignedThresholds.AsSpan();
        var tu = DynamicMap.UnsignedThresholds.AsSpan();
        for (int i = 0; i < len; i++)                                                        // requantize
        {
            mq[i] = DynamicMap.Nearest(ts, maxM > 0f ? m[i] / maxM : 0f);
            vq[i] = DynamicMap.Nearest(tu, maxV > 0f ? v[i] / maxV : 0f);
        }
    }
}
