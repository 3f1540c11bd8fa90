using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Simd;
using PureLlama.Quantization;

namespace PureLlama.Kernels.Tests;

/// <summary>
/// The K-quant scale searches (trials side by side in vector lanes) give exactly the bytes of ggml's scalar
/// reference loops (transcribed below from make_qx_quants / make_qkx2_quants), on groups made to hit every branch:
/// all zero, constant, one sign, outliers, values over 30 decades; and block quantization split over threads gives
/// the single-threaded bytes on a ragged matrix. (The llama-quantize fixtures check the formats end to end.)
/// </summary>
public sealed unsafe class BlockQuantizeTests
{
    /// <summary>Groups of <paramref name="n"/> values exercising the searches' branches.</summary>
    private static IEnumerable<float[]> Groups(int n, int seed)
    {
        var rng = new Random(seed);
        float Next() => (float)(rng.NextDouble() * 2 - 1);
        for (int k = 0; k < 400; k++)
        {
            float scale = MathF.Pow(10f, rng.Next(-20, 10));
            var g = new float[n];
            for (int i = 0; i < n; i++) g[i] = Next() * scale;
            switch (k % 8)
            {
                case 1: Array.Clear(g); break;
                case 2: Array.Fill(g, 0.37f * scale); break;
                case 3: for (int i = 0; i < n; i++) g[i] = MathF.Abs(g[i]); break;
                case 4: for (int i = 0; i < n; i++) g[i] = -MathF.Abs(g[i]); break;
                case 5: g[rng.Next(n)] = 40f * scale; break;
                case 6: for (int i = 0; i < n; i++) g[i] = MathF.Round(g[i] / scale * 7) * scale; break;
                case 7: for (int i = 0; i < n; i += 2) g[i] = 0f; break;
            }
            yield return g;
        }
    }

    [Fact]
    public void Symmetric_search_gives_ggmls_codes_and_scale()
    {
        foreach (var g in Groups(16, 71))
        {
            var got = new sbyte[16];
            var want = new sbyte[16];
            float gotScale, wantScale;
            fixed (float* x = g)
            fixed (sbyte* a = got, b = want)
            {
                gotScale = KQuantSearch.Symmetric(16, 32, x, a);
                wantScale = GgmlScalar.MakeQxQuants(16, 32, x, b);
            }
            BitConverter.SingleToInt32Bits(gotScale).Should().Be(BitConverter.SingleToInt32Bits(wantScale), string.Join(" ", g));
            got.Should().Equal(want, string.Join(" ", g));
        }
    }

    [Fact]
    public void Scale_min_search_gives_ggmls_codes_scales_and_mins()
    {
        // 11 groups per call: a whole vector of lanes and a partial one on any vector width up to 8.
        var groups = Groups(32, 72).ToList();
        for (int start = 0; start + 11 <= groups.Count; start += 11)
        {
            var x = groups.Skip(start).Take(11).SelectMany(v => v).ToArray();
            var weights = new float[x.Length];
            for (int i = 0; i < x.Length; i++) weights[i] = 0.25f + MathF.Abs(x[i]) * (1 + i % 3);
            var codes = new byte[x.Length];
            var scales = new float[11];
            var mins = new float[11];
            fixed (float* px = x, pw = weights, ps = scales, pm = mins)
            fixed (byte* pc = codes)
            {
                KQuantSearch.ScaleMin(11, 32, 15, px, pw, pc, ps, pm, -1f, 0.1f, 20);
                for (int g = 0; g < 11; g++)
                {
                    var want = new byte[32];
                    float wantMin;
                    float wantScale;
                    fixed (byte* pwant = want)
                        wantScale = GgmlScalar.MakeQkx2Quants(32, 15, px + 32 * g, pw + 32 * g, pwant, out wantMin, -1f, 0.1f, 20);
                    string what = string.Join(" ", groups[start + g]);
                    BitConverter.SingleToInt32Bits(scales[g]).Should().Be(BitConverter.SingleToInt32Bits(wantScale), what);
                    BitConverter.SingleToInt32Bits(mins[g]).Should().Be(BitConverter.SingleToInt32Bits(wantMin), what);
                    codes.AsSpan(32 * g, 32).ToArray().Should().Equal(want, what);
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void Threaded_quantization_gives_the_single_threaded_bytes(GgmlType type)
    {
        const int rows = 37, cols = 768;   // 37 rows: the pieces of rows come out ragged
        var groups = Groups(256, 73).ToList();
        var values = new float[rows * cols];
        for (int b = 0; b < rows * cols / 256; b++) groups[b % groups.Count].CopyTo(values, 256 * b);
        int saved = SimdThreading.MaxThreads;
        byte[] one, many;
        try
        {
            SimdThreading.MaxThreads = 1;
            one = GgmlQuantizer.QuantizeRows(type, values, cols);
            SimdThreading.MaxThreads = Math.Max(3, saved);
            many = GgmlQuantizer.QuantizeRows(type, values, cols);
        }
        finally { SimdThreading.MaxThreads = saved; }
        many.Should().Equal(one);
    }

    /// <summary>ggml's reference loops as published (ggml-quants.c), scalar, for comparison only.</summary>
    private static class GgmlScalar
    {
        private static int NearestInt(float v) => (BitConverter.SingleToInt32Bits(v + 12582912f) & 0x007FFFFF) - 0x00400000;

        public static float MakeQxQuants(int n, int nmax, float* x, sbyte* L)
        {
            float max = 0, amax = 0;
            for (int i = 0; i < n; i++)
            {
                float ax = MathF.Abs(x[i]);
                if (ax > amax) { amax = ax; max = x[i]; }
            }
            if (amax < 1e-15f) { for (int i = 0; i < n; i++) L[i] = 0; return 0f; }
            float iscale = -nmax / max;
            float sumlx = 0, suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                L[i] = (sbyte)(l + nmax);
                float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            float scale = suml2 != 0 ? sumlx / suml2 : 0f;
            float best = scale * sumlx;
            for (int step = -9; step <= 9; step++)
            {
                if (step == 0) continue;
                iscale = -(nmax + 0.1f * step) / max;
                sumlx = suml2 = 0;
                for (int i = 0; i < n; i++)
                {
                    int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                    float w = x[i] * x[i];
                    sumlx += w * x[i] * l;
                    suml2 += w * l * l;
                }
                if (suml2 > 0 && sumlx * sumlx > best * suml2)
                {
                    for (int i = 0; i < n; i++) L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                    scale = sumlx / suml2;
                    best = scale * sumlx;
                }
            }
            return scale;
        }

        public static float MakeQkx2Quants(int n, int nmax, float* x, float* weights, byte* L, out float theMin, float rmin, float rdelta, int nstep)
        {
            var Laux = stackalloc byte[n];
            float min = x[0], max = x[0];
            float sumW = weights[0], sumX = sumW * x[0];
            for (int i = 1; i < n; i++)
            {
                if (x[i] < min) min = x[i];
                if (x[i] > max) max = x[i];
                float w = weights[i];
                sumW += w;
                sumX += w * x[i];
            }
            if (min > 0) min = 0;
            if (max == min) { for (int i = 0; i < n; i++) L[i] = 0; theMin = -min; return 0f; }
            float iscale = nmax / (max - min);
            float scale = 1 / iscale;
            float bestMad = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * (x[i] - min));
                L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
                float diff = scale * L[i] + min - x[i];
                bestMad += weights[i] * (diff * diff);
            }
            for (int step = 0; step <= nstep; step++)
            {
                iscale = (rmin + rdelta * step + nmax) / (max - min);
                float sumL = 0, sumL2 = 0, sumXL = 0;
                for (int i = 0; i < n; i++)
                {
                    int l = Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
                    Laux[i] = (byte)l;
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
                    if (thisMin > 0) { thisMin = 0; thisScale = sumXL / sumL2; }
                    float mad = 0;
                    for (int i = 0; i < n; i++)
                    {
                        float diff = thisScale * Laux[i] + thisMin - x[i];
                        mad += weights[i] * (diff * diff);
                    }
                    if (mad < bestMad)
                    {
                        for (int i = 0; i < n; i++) L[i] = Laux[i];
                        bestMad = mad;
                        scale = thisScale;
                        min = thisMin;
                    }
                }
            }
            theMin = -min;
            return scale;
        }
    }
}
