namespace PureLlama.Kernels;

/// <summary>
/// The 8-bit dynamic (dynamic-tree) quantization maps of Dettmers et al., "8-bit Optimizers via
/// Block-wise Quantization" (2021), as bitsandbytes' <c>create_dynamic_map</c> builds them: for each
/// exponent e = 0..6, the midpoints of a float32 linspace(0.1, 1, k + 1) scaled by 10^(e − 6), with
/// k = 2^e fractions per sign (signed map: ± each) or k = 2^(e+1) (unsigned map), plus 0 and 1.0;
/// 256 float32 values sorted ascending. The signed map stores Adam's first moment, the unsigned map
/// its second (which is never negative).
/// <para>Quantization picks the nearest code through the float32 midpoints t_k = (c_k + c_{k+1})·½:
/// code(x) = #{k : x &gt; t_k}, so a tie x = t_k goes to the lower code k (the CUDA NF4 rule).</para>
/// </summary>
public static class DynamicMap
{
    /// <summary>Entries in a map (one byte of code).</summary>
    public const int Size = 256;

    /// <summary>Signed map (bitsandbytes create_dynamic_map(signed=True)): −0.99297 … 0 … 1.</summary>
    public static float[] Signed { get; } = Create(signed: true);

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
            double scale = Math.Pow(10, -(maxExponentBits - 1) + i);
            for (int k = 0; k < fractions; k++)
            {
                float mean = (bounds[k] + bounds[k + 1]) / 2f;
                data.Add((float)(scale * mean));
                if (signed) data.Add((float)(-scale * mean));
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
