using System.Runtime.CompilerServices;

namespace PureLlama.Kernels.Numerics;

/// <summary>
/// bfloat16 stored as <see cref="ushort"/>: the top 16 bits of an IEEE float32
/// (1 sign, 8 exponent, 7 mantissa bits). Widening is a shift; narrowing rounds to nearest even.
/// </summary>
internal static class Bf16
{
    /// <summary>bf16 → f32: exact, the bits shifted into the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>f32 → bf16 with round-to-nearest-even; NaN stays a (quiet) NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float value) => FromFloatBits(BitConverter.SingleToUInt32Bits(value));

    /// <summary>
    /// The one f32 → bf16 rounding, on the f32 bits (integer ops only, so ILGPU kernels call it too; the SIMD
    /// converter is its lane-wise form): add 0x7FFF + bit 16 and keep the top half (ties to even, overflow to ±∞);
    /// NaN keeps its sign and top payload bits and is made quiet (0x0040).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ushort FromFloatBits(uint bits)
    {
        if ((bits & 0x7FFF_FFFFu) > 0x7F80_0000u) return (ushort)((bits >> 16) | 0x0040u);
        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
