using System.Runtime.CompilerServices;

namespace PureLlama.Kernels.Numerics;

/// <summary>
/// bfloat16 stored as <see cref="ushort"/>: the top 16 bits of an IEEE float32
/// (1 sign, 8 exponent, 7 mantissa bits). Widening is a shift; narrowing rounds to nearest even.
/// </summary>
public static class Bf16
{
    /// <summary>bf16 → f32: exact, the bits shifted into the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>f32 → bf16 with round-to-nearest-even; NaN stays a (quiet) NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x0040); // NaN: keep it quiet
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
