namespace PureLlama.Quantization;

/// <summary>
/// The published constants of QLoRA's NormalFloat-4 (bitsandbytes 0.50.1): the 16 code values, the
/// decision thresholds between them, and the 256-entry signed dynamic 8-bit map used to
/// double-quantize the block absmaxes. Tests compare all three with shared/fixtures/nf4/nf4_tables.json.
/// </summary>
public static class Nf4Codebook
{
    /// <summary>Weights per absmax block (QLoRA default).</summary>
    public const int BlockSize = 64;

    /// <summary>Absmax values per nested (double-quantization) scale.</summary>
    public const int NestedBlockSize = 256;

    private static readonly float[] s_codes =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    private static readonly float[] s_thresholds = BuildThresholds();
    private static readonly float[] s_dynamicMap = BuildDynamicMap();

    /// <summary>The 16 NF4 values, ascending; index = 4-bit code.</summary>
    public static ReadOnlySpan<float> Codes => s_codes;

    /// <summary>The 15 decision thresholds t[i] = (code[i] + code[i+1]) / 2 computed in float32.
    /// code(x) = number of thresholds with x &gt; t, so a tie x == t goes to the lower code.</summary>
    public static ReadOnlySpan<float> Thresholds => s_thresholds;

    /// <summary>bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), sorted ascending (256 entries).</summary>
    public static ReadOnlySpan<float> DynamicMap => s_dynamicMap;

    /// <summary>A fresh copy of <see cref="Codes"/> (for tensors).</summary>
    public static float[] CodesArray() => (float[])s_codes.Clone();

    /// <summary>A fresh copy of <see cref="DynamicMap"/> (for tensors).</summary>
    public static float[] DynamicMapArray() => (float[])s_dynamicMap.Clone();

    /// <summary>The 4-bit code of a normalised value x ∈ [−1, 1]: the number of thresholds t with x &gt; t (NaN → 7, the zero code).</summary>
    public static int Encode(float x)
    {
        if (float.IsNaN(x)) return 7;
        int code = 0;
        foreach (float t in s_thresholds) if (x > t) code++;
        return code;
    }

    /// <summary>Index of the dynamic-map value nearest to x; a tie between two neighbours goes to the lower index.</summary>
    public static int NearestDynamic(float x)
    {
        var map = s_dynamicMap;
        int lo = 0, hi = map.Length - 1;
        if (x <= map[lo]) return lo;
        if (x >= map[hi]) return hi;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) >> 1;
            if (map[mid] <= x) lo = mid; else hi = mid;
        }
        // map[lo] <= x < map[hi]
        return (double)x - map[lo] <= (double)map[hi] - x ? lo : hi;
    }

    private static float[] BuildThresholds()
    {
        var t = new float[15];
        for (int i = 0; i < 15; i++) t[i] = (s_codes[i] + s_codes[i + 1]) / 2f;
        return t;
    }

    // bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), sorted: the table the
    // 8-bit optimizer states use too (kernels' DynamicMap.Signed, written out as published, bitsandbytes 0.50.1).
    private static float[] BuildDynamicMap() => (float[])PureLlama.Kernels.DynamicMap.Signed.Clone();
}
