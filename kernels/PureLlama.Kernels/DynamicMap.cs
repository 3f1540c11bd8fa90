namespace PureLlama.Kernels;

/// <summary>
/// The 8-bit dynamic (dynamic-tree) quantization maps of Dettmers et al., "8-bit Optimizers via
/// Block-wise Quantization" (2021), as bitsandbytes' <c>create_dynamic_map</c> builds them: for each
/// exponent e = 0..6, the midpoints of a float32 linspace(0.1, 1, k + 1) scaled by 10^(e − 6), with
/// k = 2^e fractions per sign (signed map: ± each) or k = 2^(e+1) (unsigned map), plus 0 and 1.0;
/// 256 float32 values sorted ascending (the float32 linspace as torch's scalar path computes it). The signed map stores Adam's first moment, the unsigned map
/// its second (which is never negative).
/// <para>Quantization picks the nearest code through the float32 midpoints t_k = (c_k + c_{k+1})·½:
/// code(x) = #{k : x &gt; t_k}, so a tie x = t_k goes to the lower code k (the CUDA NF4 rule).</para>
/// </summary>
internal static class DynamicMap
{
    /// <summary>Entries in a map (one byte of code).</summary>
    public const int Size = 256;

    /// <summary>
    /// Signed map: bitsandbytes' published create_dynamic_map(signed=True) table (−0.99297 … 0 … 1).
    /// <see cref="Create"/> reproduces it to within two float32 ulps (torch's vectorized linspace rounds a
    /// few boundaries differently), so the published values are used as the constant.
    /// </summary>
    public static float[] Signed { get; } =
    [
        -0.99296874f, -0.9789062f, -0.96484375f, -0.9507812f, -0.9367187f, -0.92265624f, -0.9085938f, -0.89453125f,
        -0.8804687f, -0.8664062f, -0.85234374f, -0.8382812f, -0.82421875f, -0.8101562f, -0.7960937f, -0.78203124f,
        -0.7679688f, -0.75390625f, -0.7398438f, -0.72578126f, -0.7117188f, -0.6976563f, -0.68359375f, -0.6695313f,
        -0.65546876f, -0.64140624f, -0.6273438f, -0.61328125f, -0.5992187f, -0.58515626f, -0.5710938f, -0.5570313f,
        -0.54296875f, -0.5289062f, -0.51484376f, -0.50078124f, -0.48671877f, -0.47265625f, -0.45859373f, -0.44453126f,
        -0.43046874f, -0.4164062f, -0.40234375f, -0.38828123f, -0.37421876f, -0.36015624f, -0.3460937f, -0.33203125f,
        -0.31796873f, -0.30390626f, -0.28984374f, -0.27578127f, -0.26171875f, -0.24765626f, -0.23359376f, -0.21953125f,
        -0.20546874f, -0.19140625f, -0.17734374f, -0.16328125f, -0.14921875f, -0.13515624f, -0.12109375f, -0.107031256f,
        -0.09859375f, -0.095781244f, -0.092968754f, -0.09015625f, -0.08734375f, -0.08453125f, -0.08171874f, -0.07890625f,
        -0.07609375f, -0.07328125f, -0.070468746f, -0.067656256f, -0.06484375f, -0.062031247f, -0.059218753f, -0.05640625f,
        -0.05359375f, -0.05078125f, -0.04796875f, -0.04515625f, -0.042343747f, -0.03953125f, -0.036718752f, -0.033906247f,
        -0.03109375f, -0.028281247f, -0.02546875f, -0.02265625f, -0.01984375f, -0.01703125f, -0.01421875f, -0.01140625f,
        -0.00971875f, -0.009156249f, -0.00859375f, -0.00803125f, -0.00746875f, -0.00690625f, -0.00634375f, -0.00578125f,
        -0.0052187503f, -0.0046562497f, -0.00409375f, -0.0035312497f, -0.00296875f, -0.00240625f, -0.00184375f, -0.0012812499f,
        -0.0009437501f, -0.00083125f, -0.00071875006f, -0.0006062501f, -0.00049375003f, -0.00038125002f, -0.00026875004f, -0.00015625001f,
        -8.875e-05f, -6.625e-05f, -4.375e-05f, -2.1249998e-05f, -7.75e-06f, -3.2500002e-06f, -5.5000004e-07f, 0f,
        5.5000004e-07f, 3.2500002e-06f, 7.75e-06f, 2.1249998e-05f, 4.375e-05f, 6.625e-05f, 8.875e-05f, 0.00015625001f,
        0.00026875004f, 0.00038125002f, 0.00049375003f, 0.0006062501f, 0.00071875006f, 0.00083125f, 0.0009437501f, 0.0012812499f,
        0.00184375f, 0.00240625f, 0.00296875f, 0.0035312497f, 0.00409375f, 0.0046562497f, 0.0052187503f, 0.00578125f,
        0.00634375f, 0.00690625f, 0.00746875f, 0.00803125f, 0.00859375f, 0.009156249f, 0.00971875f, 0.01140625f,
        0.01421875f, 0.01703125f, 0.01984375f, 0.02265625f, 0.02546875f, 0.028281247f, 0.03109375f, 0.033906247f,
        0.036718752f, 0.03953125f, 0.042343747f, 0.04515625f, 0.04796875f, 0.05078125f, 0.05359375f, 0.05640625f,
        0.059218753f, 0.062031247f, 0.06484375f, 0.067656256f, 0.070468746f, 0.07328125f, 0.07609375f, 0.07890625f,
        0.08171874f, 0.08453125f, 0.08734375f, 0.09015625f, 0.092968754f, 0.095781244f, 0.09859375f, 0.107031256f,
        0.12109375f, 0.13515624f, 0.14921875f, 0.16328125f, 0.17734374f, 0.19140625f, 0.20546874f, 0.21953125f,
        0.23359376f, 0.24765626f, 0.26171875f, 0.27578127f, 0.28984374f, 0.30390626f, 0.31796873f, 0.33203125f,
        0.3460937f, 0.36015624f, 0.37421876f, 0.38828123f, 0.40234375f, 0.4164062f, 0.43046874f, 0.44453126f,
        0.45859373f, 0.47265625f, 0.48671877f, 0.50078124f, 0.51484376f, 0.5289062f, 0.54296875f, 0.5570313f,
        0.5710938f, 0.58515626f, 0.5992187f, 0.61328125f, 0.6273438f, 0.64140624f, 0.65546876f, 0.6695313f,
        0.68359375f, 0.6976563f, 0.7117188f, 0.72578126f, 0.7398438f, 0.75390625f, 0.7679688f, 0.78203124f,
        0.7960937f, 0.8101562f, 0.82421875f, 0.8382812f, 0.85234374f, 0.8664062f, 0.8804687f, 0.89453125f,
        0.9085938f, 0.92265624f, 0.9367187f, 0.9507812f, 0.96484375f, 0.9789062f, 0.99296874f, 1f,
    ];

    /// <summary>Unsigned map (bitsandbytes create_dynamic_map(signed=False)): 0 … 1.</summary>
    public static float[] Unsigned { get; } = Create(signed: false);

    /// <summary>Midpoints of <see cref="Signed"/>: 255 decision thresholds.</summary>
    public static float[] SignedThresholds { get; } = Thresholds(Signed);

    /// <summary>Midpoints of <see cref="Unsigned"/>: 255 decision thresholds.</summary>
    public static float[] UnsignedThresholds { get; } = Thresholds(Unsigned);

    /// <summary>Code of 0 in the signed map (127: 127 negative values sort below it).</summary>
    public static byte SignedZero { get; } = (byte)Array.IndexOf(Signed, 0f);

    /// <summary>
    /// The four tables the GPU kernel reads, concatenated (1022 floats): signed map [256], unsigned map
    /// [256], signed thresholds [255], unsigned thresholds [255].
    /// </summary>
    public static float[] GpuTables { get; } = [.. Signed, .. Unsigned, .. SignedThresholds, .. UnsignedThresholds];

    /// <summary>Builds the map with 7 exponent bits and 8 bits in all, as bitsandbytes' defaults.</summary>
    public static float[] Create(bool signed)
    {
        const int maxExponentBits = 7, nonSignBits = 7;
        var data = new List<float>(Size);
        for (int i = 0; i < maxExponentBits; i++)
        {
            int fractions = signed ? (1 << (i + nonSignBits - maxExponentBits)) : (1 << (i + nonSignBits - maxExponentBits + 1));
            var bounds = Linspace(0.1f, 1f, fractions + 1);
            float scale = (float)Math.Pow(10, -(maxExponentBits - 1) + i);   // torch multiplies the float32 means by the scalar in float32
            for (int k = 0; k < fractions; k++)
            {
                float mean = (bounds[k] + bounds[k + 1]) / 2f;
                data.Add(scale * mean);
                if (signed) data.Add(-scale * mean);
            }
        }
        data.Add(0f);
        data.Add(1f);
        if (data.Count != Size) throw new InvalidOperationException($"The dynamic map has {data.Count} entries, expected {Size}.");
        data.Sort();
        return [.. data];
    }

    /// <summary>float32 midpoints (c_k + c_{k+1})·½ of a sorted map.</summary>
    public static float[] Thresholds(float[] map)
    {
        var t = new float[map.Length - 1];
        for (int k = 0; k < t.Length; k++) t[k] = (map[k] + map[k + 1]) * 0.5f;
        return t;
    }

    /// <summary>code(x) = number of thresholds below x (binary search; NaN gives 0).</summary>
    public static byte Nearest(ReadOnlySpan<float> thresholds, float x)
    {
        int lo = 0, hi = thresholds.Length;          // answer in [lo, hi]
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (x > thresholds[mid]) lo = mid + 1; else hi = mid;
        }
        return (byte)lo;
    }

    // torch.linspace in float32: step = (end − start)/(steps − 1); the first half counts up from
    // start, the second half down from end (so both ends are exact).
    private static float[] Linspace(float start, float end, int steps)
    {
        var r = new float[steps];
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++)
            r[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return r;
    }
}
