// Bit-level float conversions usable inside ILGPU kernels (integer ops only, no System.Half).
//
// BF16 → F32: the 16 bits become the high half of the float (exact).
// F32 → BF16: Numerics/Bf16.FromFloatBits (the one rounding: nearest, ties to even; NaN kept quiet).
// F32 → F16: rebias the exponent (127 → 15) and round the 13 dropped mantissa bits to nearest
// even; |x| ≥ 65520 → ±∞; below 2⁻¹⁴ the result is subnormal, q = round(|x|·2²⁴) done with shifts.
// F16 → F32: exact; subnormals m·2⁻²⁴ are formed by a float multiply (exact, power-of-two scale).
// ILGPU.Half's own conversion truncates on the CPU accelerator, so kernels use these instead.
using System.Runtime.CompilerServices;
using ILGPU;
using PureLlama.Kernels.Numerics;

namespace PureLlama.Kernels.Gpu;

internal static class GpuBits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToF32(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort F32ToBf16(float value) => Bf16.FromFloatBits(Interop.FloatAsInt(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort F32ToF16(float value)
    {
        uint x = Interop.FloatAsInt(value);
        uint sign = (x >> 16) & 0x8000u;
        uint a = x & 0x7FFF_FFFFu;
        if (a >= 0x7F80_0000u) return (ushort)(sign | (a > 0x7F80_0000u ? 0x7E00u | ((a >> 13) & 0x3FFu) : 0x7C00u));
        if (a >= 0x477F_F000u) return (ushort)(sign | 0x7C00u);           // rounds past 65504
        if (a < 0x3880_0000u)                                             // below 2^-14: subnormal or zero
        {
            if (a <= 0x3300_0000u) return (ushort)sign;                   // ≤ 2^-25 rounds (ties even) to 0
            int shift = 126 - (int)(a >> 23);                             // 14 … 24
            uint m = (a & 0x7F_FFFFu) | 0x80_0000u;
            uint q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
            if (rem > half || (rem == half && (q & 1u) != 0)) q++;
            return (ushort)(sign | q);
        }
        uint r = a - 0x3800_0000u;                                        // exponent 127 → 15 bias
        r += 0xFFFu + ((r >> 13) & 1u);
        return (ushort)(sign | (r >> 13));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16ToF32(ushort h)
    {
        uint sign = ((uint)h & 0x8000u) << 16;
        uint e = ((uint)h >> 10) & 0x1Fu, m = (uint)h & 0x3FFu;
        if (e == 0x1Fu) return Interop.IntAsFloat(sign | 0x7F80_0000u | (m << 13));
        if (e == 0)
        {
            float sub = m * (1f / 16777216f);
            return Interop.IntAsFloat(Interop.FloatAsInt(sub) | sign);
        }
        return Interop.IntAsFloat(sign | ((e + 112u) << 23) | (m << 13));
    }
}
