// The scale searches of llama.cpp's K-quant reference quantizers, in ggml's float arithmetic
// (same operation order, no fused multiply-add) so the bytes match llama-quantize's.
//
// ScaleMin (make_qkx2_quants): fit x ≈ scale·L + min with L ∈ [0, nmax], min ≤ 0, minimizing
//   Σ w·(scale·L + min − x)². Start from scale = (max − min)/nmax; then for each trial
//   iscale = (rmin + rdelta·is + nmax)/(max − min), is = 0..nstep, round L, solve the weighted
//   least squares for (scale, min) in closed form, keep the best. Returns scale; outMin = −min.
//   A trial that is kept replaces min, and the later trials start from it: the trials of one group
//   depend on each other, so the groups (a Q4_K block's 8 sub-blocks) run side by side, one per lane.
// Symmetric (make_qx_quants, rmse_type 1, weights x²): fit x ≈ scale·(L − nmax), L ∈ [0, 2·nmax),
//   trial iscales −(nmax + 0.1·is)/max for is = −9..9, scale = Σwxl / Σwl² of the best.
//   Its trials are independent until the pick, so they run side by side, one trial per lane.
//
// Every lane sums over the elements in ggml's order, so its sums are bit-identical to the scalar loop's;
// the picks use ggml's comparisons in ggml's order, and codes are rounded once, for the trial kept.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace PureLlama.Kernels.Blocks;

[SkipLocalsInit]   // every stack buffer is written before it is read
internal static unsafe class KQuantSearch
{
    /// <summary>
    /// make_qkx2_quants on <paramref name="groups"/> groups of <paramref name="n"/> values (group g at x + g·n, its
    /// weights at weights + g·n, its codes to codes + g·n); scales[g] = scale, mins[g] = −min.
    /// </summary>
    public static void ScaleMin(int groups, int n, int nmax, float* x, float* weights, byte* codes, float* scales, float* mins,
        float rmin, float rdelta, int nstep)
    {
        int lanes = Vector<float>.Count;
        var xt = stackalloc float[n * lanes];     // xt[i·lanes + k] = element i of lane k's group
        var wt = stackalloc float[n * lanes];
        var ls = stackalloc float[n * lanes];     // the codes of the trial in progress, as floats
        var lane = stackalloc float[6 * lanes];   // per lane: min, max, Σw, Σw·x, best error, active
        var picked = stackalloc float[3 * lanes]; // per lane: iscale of the trial kept (NaN: none), the min it rounded with, the scale
        for (int g0 = 0; g0 < groups; g0 += lanes)
        {
            for (int k = 0; k < lanes; k++)
            {
                int g = Math.Min(g0 + k, groups - 1);   // spare lanes repeat the last group; their results are dropped
                for (int i = 0; i < n; i++) { xt[i * lanes + k] = x[g * n + i]; wt[i * lanes + k] = weights[g * n + i]; }
                Start(n, nmax, x + g * n, weights + g * n, codes + g * n, lane, lanes, k);
                picked[k] = float.NaN;
                picked[lanes + k] = 0f;
                picked[2 * lanes + k] = 1 / (nmax / (lane[lanes + k] - lane[k]));
            }
            Trials(n, nmax, xt, wt, ls, lane, picked, rmin, rdelta, nstep);
            for (int k = 0; k < lanes && g0 + k < groups; k++)
            {
                int g = g0 + k;
                bool active = lane[5 * lanes + k] != 0;
                float iscale = picked[k], usedMin = picked[lanes + k];
                if (active && !float.IsNaN(iscale))
                    for (int i = 0; i < n; i++)
                        codes[g * n + i] = (byte)Math.Max(0, Math.Min(nmax, BlockMath.NearestInt(iscale * (x[g * n + i] - usedMin))));
                scales[g] = active ? picked[2 * lanes + k] : 0f;
                mins[g] = -lane[k];
            }
        }
    }

    /// <summary>One group's start: min (≤ 0), max, Σw, Σw·x, and the codes and error of scale (max − min)/nmax.</summary>
    private static void Start(int n, int nmax, float* x, float* weights, byte* codes, float* lane, int lanes, int k)
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
        float bestError = 0;
        bool active = max != min;
        if (!active)
            for (int i = 0; i < n; i++) codes[i] = 0;
        else
        {
            float iscale = nmax / (max - min);
            float scale = 1 / iscale;
            for (int i = 0; i < n; i++)
            {
                int l = BlockMath.NearestInt(iscale * (x[i] - min));
                codes[i] = (byte)Math.Max(0, Math.Min(nmax, l));
                float diff = scale * codes[i] + min - x[i];
                bestError += weights[i] * (diff * diff);
            }
        }
        lane[k] = min; lane[lanes + k] = max; lane[2 * lanes + k] = sumW; lane[3 * lanes + k] = sumX;
        lane[4 * lanes + k] = bestError; lane[5 * lanes + k] = active ? 1 : 0;
    }

    /// <summary>
    /// The trials is = 0..nstep, each lane its own group in ggml's order: a trial that lowers the error replaces
    /// scale and min, and that lane's later trials start from the new min.
    /// </summary>
    private static void Trials(int n, int nmax, float* xt, float* wt, float* ls, float* lane, float* picked,
        float rmin, float rdelta, int nstep)
    {
        int lanes = Vector<float>.Count;
        var min = Vector.Load(lane);
        var max = Vector.Load(lane + lanes);
        var sumW = Vector.Load(lane + 2 * lanes);
        var sumX = Vector.Load(lane + 3 * lanes);
        var bestError = Vector.Load(lane + 4 * lanes);
        var active = Vector.GreaterThan(Vector.Load(lane + 5 * lanes), Vector<float>.Zero);
        var pickedIscale = Vector.Load(picked);
        var pickedMin = Vector.Load(picked + lanes);
        var scale = Vector.Load(picked + 2 * lanes);
        var top = new Vector<int>(nmax);
        for (int step = 0; step <= nstep; step++)
        {
            var iscale = new Vector<float>(rmin + rdelta * step + nmax) / (max - min);
            Vector<float> sumL = default, sumL2 = default, sumXL = default;
            for (int i = 0; i < n; i++)
            {
                var xi = Vector.Load(xt + i * lanes);
                var l = Codes(iscale * (xi - min), Vector<int>.Zero, top);
                l.Store(ls + i * lanes);
                var wl = Vector.Load(wt + i * lanes) * l;
                sumL += wl;
                sumL2 += wl * l;
                sumXL += wl * xi;
            }
            var det = sumW * sumL2 - sumL * sumL;
            var thisScale = (sumW * sumXL - sumX * sumL) / det;
            var thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            var positive = Vector.GreaterThan(thisMin, Vector<float>.Zero);
            thisMin = Vector.ConditionalSelect(positive, Vector<float>.Zero, thisMin);
            thisScale = Vector.ConditionalSelect(positive, sumXL / sumL2, thisScale);
            Vector<float> error = default;
            for (int i = 0; i < n; i++)
            {
                var diff = thisScale * Vector.Load(ls + i * lanes) + thisMin - Vector.Load(xt + i * lanes);
                error += Vector.Load(wt + i * lanes) * (diff * diff);
            }
            var better = active & Vector.GreaterThan(det, Vector<float>.Zero) & Vector.LessThan(error, bestError);
            if (better == Vector<int>.Zero) continue;
            bestError = Vector.ConditionalSelect(better, error, bestError);
            pickedIscale = Vector.ConditionalSelect(better, iscale, pickedIscale);
            pickedMin = Vector.ConditionalSelect(better, min, pickedMin);
            scale = Vector.ConditionalSelect(better, thisScale, scale);
            min = Vector.ConditionalSelect(better, thisMin, min);
        }
        min.Store(lane);
        pickedIscale.Store(picked);
        pickedMin.Store(picked + lanes);
        scale.Store(picked + 2 * lanes);
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
        // Trial t ↔ ggml's is = t − 9; t = 9 is the start (iscale −nmax/max, the same float as −(nmax + 0.1·0)/max).
        const int Trials = 19, Start = 9;
        int lanes = Vector<float>.Count, groups = (Trials + lanes - 1) / lanes;
        var iscales = stackalloc float[groups * lanes];
        for (int t = 0; t < groups * lanes; t++) iscales[t] = -(nmax + 0.1f * (t - Start));
        for (int g = 0; g < groups; g++) (Vector.Load(iscales + g * lanes) / new Vector<float>(max)).Store(iscales + g * lanes);
        var sumsLX = stackalloc float[groups * lanes];
        var sumsL2 = stackalloc float[groups * lanes];
        var low = new Vector<int>(-nmax);
        var high = new Vector<int>(nmax - 1);
        for (int g = 0; g < groups; g++)
        {
            var iscale = Vector.Load(iscales + g * lanes);
            Vector<float> sumLX = default, sumL2 = default;
            for (int i = 0; i < n; i++)
            {
                var xi = new Vector<float>(x[i]);
                var l = Codes(iscale * xi, low, high);
                var w = xi * xi;
                sumLX += w * xi * l;
                sumL2 += w * l * l;
            }
            sumLX.Store(sumsLX + g * lanes);
            sumL2.Store(sumsL2 + g * lanes);
        }
        int best = Start;
        float scale = sumsL2[Start] != 0 ? sumsLX[Start] / sumsL2[Start] : 0f;
        float bestValue = scale * sumsLX[Start];
        for (int t = 0; t < Trials; t++)
        {
            if (t == Start) continue;
            if (sumsL2[t] > 0 && sumsLX[t] * sumsLX[t] > bestValue * sumsL2[t])
            {
                best = t;
                scale = sumsLX[t] / sumsL2[t];
                bestValue = scale * sumsLX[t];
            }
        }
        for (int i = 0; i < n; i++)
            codes[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, BlockMath.NearestInt(iscales[best] * x[i]))));
        return scale;
    }

    /// <summary>Lane-wise nearest_int(v) clamped to [low, high], as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Codes(Vector<float> v, Vector<int> low, Vector<int> high)
    {
        var rounded = (Vector.AsVectorInt32(v + new Vector<float>(12582912f)) & new Vector<int>(0x007FFFFF)) - new Vector<int>(0x00400000);
        return Vector.ConvertToSingle(Vector.Max(low, Vector.Min(high, rounded)));
    }
}
