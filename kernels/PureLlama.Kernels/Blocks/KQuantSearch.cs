// The scale searches of llama.cpp's K-quant reference quantizers, in ggml's float arithmetic
// (same operation order, no fused multiply-add) so the bytes match llama-quantize's.
//
// ScaleMin (make_qkx2_quants): fit x ≈ scale·L + min with L ∈ [0, nmax], min ≤ 0, minimizing
//   Σ w·(scale·L + min − x)². Start from scale = (max − min)/nmax; then for each trial
//   iscale = (rmin + rdelta·is + nmax)/(max − min), is = 0..nstep, round L, solve the weighted
//   least squares for (scale, min) in closed form, keep the best. Returns scale; outMin = −min.
// Symmetric (make_qx_quants, rmse_type 1, weights x²): fit x ≈ scale·(L − nmax), L ∈ [0, 2·nmax),
//   trial iscales −(nmax + 0.1·is)/max for is = −9..9, scale = Σwxl / Σwl² of the best.
namespace PureLlama.Kernels.Blocks;

internal static unsafe class KQuantSearch
{
    public static float ScaleMin(int n, int nmax, float* x, float* weights, byte* codes, out float outMin, byte* aux,
        float rmin, float rdelta, int nstep)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) codes[i] = 0;
            outMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = BlockMath.NearestInt(iscale * (x[i] - min));
            codes[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * codes[i] + min - x[i];
            bestError += weights[i] * (diff * diff);
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = BlockMath.NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                aux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * aux[i] + thisMin - x[i];
                    error += weights[i] * (diff * diff);
                }
                if (error < bestError)
                {
                    for (int i = 0; i < n; i++) codes[i] = aux[i];
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        outMin = -min;
        return scale;
    }

    /// <summary>Codes stored as L + nmax ∈ [0, 2·nmax); returns the scale (0 for an all-zero group).</summary>
    public static float Symmetric(int n, int nmax, float* x, sbyte* codes)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < 1e-15f)
        {
            for (int i = 0; i < n; i++) codes[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Max(-nmax, Math.Min(nmax - 1, BlockMath.NearestInt(iscale * x[i])));
            codes[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(-nmax, Math.Min(nmax - 1, BlockMath.NearestInt(iscale * x[i])));
                float w = x[i] * x[i];
                sumLX += w * x[i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++)
                    codes[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, BlockMath.NearestInt(iscale * x[i]))));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }
}
