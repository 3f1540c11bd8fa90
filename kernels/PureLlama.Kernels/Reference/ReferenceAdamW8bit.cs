namespace PureLlama.Kernels.Reference;

/// <summary>
/// float64 reference of one 8-bit AdamW step (see <see cref="Simd.SimdAdamW8bit"/>): dequantize the
/// moments of each block of 256 with the float32 maps, update in double, p −= lr·(wd·p + m̂/(√v̂ + ε)),
/// new absmax = max |m| (max v) over the block, and the nearest code of m/absmax (ties to the lower
/// code). Also returns the normalized values x = m/absmax, v/absmax, so a checker can accept a
/// different code where x lies within rounding of the midpoint between two codes.
/// </summary>
public static class ReferenceAdamW8bit
{
    /// <summary>Updates p, the codes and absmaxes in place; xm, xv receive the normalized moments.</summary>
    public static void Step(double[] p, float[] g, byte[] mq, double[] mAbs, byte[] vq, double[] vAbs, double[] xm, double[] xv,
        double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        const int B = Simd.SimdAdamW8bit.BlockSize;
        double c1 = 1 - Math.Pow(beta1, step), c2 = 1 - Math.Pow(beta2, step);
        var sm = DynamicMap.Signed; var um = DynamicMap.Unsigned;
        int n = p.Length;
        var m = new double[B]; var v = new double[B];
        for (int b = 0, s = 0; s < n; b++, s += B)
        {
            int len = Math.Min(B, n - s);
            double maxM = 0, maxV = 0;
            for (int i = 0; i < len; i++)
            {
                double gi = g[s + i];
                m[i] = beta1 * (sm[mq[s + i]] * mAbs[b]) + (1 - beta1) * gi;
                v[i] = beta2 * (um[vq[s + i]] * vAbs[b]) + (1 - beta2) * gi * gi;
                p[s + i] -= lr * (weightDecay * p[s + i] + (m[i] / c1) / (Math.Sqrt(v[i] / c2) + eps));
                maxM = Math.Max(maxM, Math.Abs(m[i]));
                maxV = Math.Max(maxV, v[i]);
            }
            mAbs[b] = maxM; vAbs[b] = maxV;
            for (int i = 0; i < len; i++)
            {
                xm[s + i] = maxM > 0 ? m[i] / maxM : 0;
                xv[s + i] = maxV > 0 ? v[i] / maxV : 0;
                mq[s + i] = NearestCode(sm, xm[s + i]);
                vq[s + i] = NearestCode(um, xv[s + i]);
            }
        }
    }

    /// <summary>The code whose value is nearest to x (the lower one on a tie), by linear scan in double.</summary>
    public static byte NearestCode(float[] map, double x)
    {
        int best = 0;
        for (int k = 1; k < map.Length; k++)
            if (Math.Abs(x - map[k]) < Math.Abs(x - map[best])) best = k;
        return (byte)best;
    }
}
