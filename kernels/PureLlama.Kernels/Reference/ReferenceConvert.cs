namespace PureLlama.Kernels.Reference;

/// <summary>
/// Reference float conversions written from the number formats, not from bit tricks:
/// narrowing picks the nearest representable value (ties to the even code), overflow goes to ±∞,
/// NaN stays NaN (canonical quiet NaN here; tests only require "is NaN").
/// bf16: 1 sign, 8 exponent (bias 127), 7 mantissa bits. f16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
/// </summary>
internal static class ReferenceConvert
{
    /// <summary>Value of a bf16 code.</summary>
    public static double Bf16ToDouble(ushort b) => Decode(b, expBits: 8, mantBits: 7);

    /// <summary>Value of an f16 code.</summary>
    public static double F16ToDouble(ushort b) => Decode(b, expBits: 5, mantBits: 10);

    /// <summary>Nearest bf16 code to x (ties to even).</summary>
    public static ushort F32ToBf16(float x) => Encode(x, expBits: 8, mantBits: 7);

    /// <summary>Nearest f16 code to x (ties to even).</summary>
    public static ushort F32ToF16(float x) => Encode(x, expBits: 5, mantBits: 10);

    /// <summary>True when a bf16 code is NaN.</summary>
    public static bool IsBf16NaN(ushort b) => (b & 0x7F80) == 0x7F80 && (b & 0x007F) != 0;

    /// <summary>True when an f16 code is NaN.</summary>
    public static bool IsF16NaN(ushort b) => (b & 0x7C00) == 0x7C00 && (b & 0x03FF) != 0;

    private static double Decode(ushort b, int expBits, int mantBits)
    {
        int bias = (1 << (expBits - 1)) - 1;
        int sign = b >> 15;
        int e = (b >> mantBits) & ((1 << expBits) - 1);
        int m = b & ((1 << mantBits) - 1);
        double v;
        if (e == (1 << expBits) - 1) v = m == 0 ? double.PositiveInfinity : double.NaN;
        else if (e == 0) v = m * Math.Pow(2, 1 - bias - mantBits);                 // subnormal
        else v = (1 + m / Math.Pow(2, mantBits)) * Math.Pow(2, e - bias);
        return sign == 1 ? -v : v;
    }

    private static ushort Encode(float xf, int expBits, int mantBits)
    {
        int bias = (1 << (expBits - 1)) - 1;
        int expAllOnes = (1 << expBits) - 1;
        ushort signBit = (ushort)(BitConverter.SingleToUInt32Bits(xf) >> 31 << 15);
        if (float.IsNaN(xf)) return (ushort)(signBit | (expAllOnes << mantBits) | (1 << (mantBits - 1)));
        double a = Math.Abs((double)xf);
        if (double.IsInfinity(a)) return (ushort)(signBit | (expAllOnes << mantBits));
        if (a == 0) return signBit;

        int minNormalExp = 1 - bias;
        // Spacing of representable values around a: 2^(max(e, minNormalExp) − mantBits).
        int e = Math.Max(Math.ILogB(a), minNormalExp);
        double quantum = Math.ScaleB(1.0, e - mantBits);
        double q = Math.Round(a / quantum, MidpointRounding.ToEven);   // exact: a/quantum has few bits
        double v = q * quantum;
        double maxFinite = (2 - Math.ScaleB(1.0, -mantBits)) * Math.ScaleB(1.0, bias);
        if (v > maxFinite) return (ushort)(signBit | (expAllOnes << mantBits));
        if (v < Math.ScaleB(1.0, minNormalExp))
            return (ushort)(signBit | (int)q);                            // subnormal (q may be 2^mantBits = min normal)
        int ve = Math.ILogB(v);
        int mant = (int)(v / Math.ScaleB(1.0, ve - mantBits)) - (1 << mantBits);
        return (ushort)(signBit | ((ve + bias) << mantBits) | mant);
    }
}
