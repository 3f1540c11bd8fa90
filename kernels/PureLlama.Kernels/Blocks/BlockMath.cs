// Scalar pieces the block formats share, each matching ggml's C arithmetic bit for bit:
//   f16 load/store   exact widening; round to nearest even (F16C's _cvtss_sh)
//   NearestInt(v)    ggml's nearest_int: (v + 1.5·2^23) bits − 2^22, i.e. round half to even for |v| < 2^22
using System.Runtime.CompilerServices;

namespace PureLlama.Kernels.Blocks;

internal static unsafe class BlockMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadF16(byte* p) => (float)BitConverter.UInt16BitsToHalf(Unsafe.ReadUnaligned<ushort>(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(byte* p, float v) => Unsafe.WriteUnaligned(p, BitConverter.HalfToUInt16Bits((Half)v));

    /// <summary>The float that an f16 store then load of <paramref name="v"/> gives.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundF16(float v) => (float)(Half)v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float v) => (BitConverter.SingleToInt32Bits(v + 12582912f) & 0x007FFFFF) - 0x00400000;
}
