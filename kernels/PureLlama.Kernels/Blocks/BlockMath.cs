// Scalar pieces the block formats share, each matching ggml's C arithmetic bit for bit:
//   f16 load/store   exact widening; round to nearest even (F16C's _cvtss_sh)
//   LoadF16Fast      the same widening by bit placement and one multiply (finite values)
//   NearestInt(v)    ggml's nearest_int: (v + 1.5·2^23) bits − 2^22, i.e. round half to even for |v| < 2^22
using System.Runtime.CompilerServices;
using ILGPU;
using PureLlama.Kernels.Gpu;

namespace PureLlama.Kernels.Blocks;

internal static unsafe class BlockMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadF16(byte* p) => (float)BitConverter.UInt16BitsToHalf(Unsafe.ReadUnaligned<ushort>(p));

    /// <summary>
    /// The f16 at p by bit placement: magnitude bits shifted left 13 reinterpreted as float, × 2^112 re-biases the exponent
    /// (exact for normals, subnormals and zero; inf/NaN come out finite, so only for the int8 dots' scales).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LoadF16Fast(byte* p)
    {
        uint h = Unsafe.ReadUnaligned<ushort>(p);
        float magnitude = BitConverter.UInt32BitsToSingle((h & 0x7FFFu) << 13) * 5.192296858534828e33f;   // 2^112
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | ((h & 0x8000u) << 16));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreF16(byte* p, float v) => Unsafe.WriteUnaligned(p, BitConverter.HalfToUInt16Bits((System.Half)v));

    /// <summary>The float that an f16 store then load of <paramref name="v"/> gives.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RoundF16(float v) => (float)(System.Half)v;

    /// <summary>The f16 at bytes start, start + 1 of a device view, widened with integer ops (GPU and CPU accelerator agree).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16(ArrayView<byte> data, int start) => GpuBits.F16ToF32((ushort)(data[start] | (data[start + 1] << 8)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float v) => (BitConverter.SingleToInt32Bits(v + 12582912f) & 0x007FFFFF) - 0x00400000;
}
