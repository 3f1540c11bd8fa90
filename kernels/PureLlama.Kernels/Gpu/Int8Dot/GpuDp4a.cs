// Integer primitives of the GPU int8 dot-product kernels (docs/kernels/int8-dot.md, "GPU"):
//
//   Dot4(a, b, c)  = c + Σ_{k<4} a_k·b_k        a_k, b_k the signed bytes k (bits 8k…8k+7) of a and b
//   Permute(a, b, s): result byte k = byte s_k of the 8-byte value (b:a) (a bytes 0…3, b bytes 4…7),
//                     s_k = bits 4k…4k+2 of the selector s (0x6420: bytes 0, 2, 4, 6; 0x7531: bytes 1, 3, 5, 7)
//
// On CUDA they are one instruction each through inline PTX (dp4a.s32.s32, sm_61+; prmt.b32); elsewhere (ILGPU's CPU
// accelerator) the same integers from shifts and multiplies. Each byte product fits 15 bits and a kernel sums at most
// 32 of them per chain (|Σ| ≤ 32·128·127 < 2³¹), so nothing wraps and the two forms give the same int32 bit for bit.
using System.Runtime.CompilerServices;
using ILGPU.Runtime.Cuda;

namespace PureLlama.Kernels.Gpu;

internal static class GpuDp4a
{
    /// <summary>c + Σ_k a_k·b_k over the four signed bytes of a and b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot4(int a, int b, int c)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("dp4a.s32.s32 %0, %1, %2, %3;", out int r, a, b, c);
            return r;
        }
        return Dot4Emulated(a, b, c);
    }

    /// <summary>The emulation of <see cref="Dot4"/> (also what the tests compare the kernels' integers with).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot4Emulated(int a, int b, int c) =>
        c + ((a << 24) >> 24) * ((b << 24) >> 24) + ((a << 16) >> 24) * ((b << 16) >> 24)
          + ((a << 8) >> 24) * ((b << 8) >> 24) + (a >> 24) * (b >> 24);

    /// <summary>Bytes of (b:a) picked by the four selector nibbles of <paramref name="selector"/> (values 0…7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Permute(int a, int b, int selector)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("prmt.b32 %0, %1, %2, %3;", out int r, a, b, selector);
            return r;
        }
        return PermuteEmulated(a, b, selector);
    }

    /// <summary>The emulation of <see cref="Permute"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PermuteEmulated(int a, int b, int selector) =>
        Pick(a, b, selector) | (Pick(a, b, selector >> 4) << 8) | (Pick(a, b, selector >> 8) << 16) | (Pick(a, b, selector >> 12) << 24);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Pick(int a, int b, int s)
    {
        int k = s & 7;
        int word = k < 4 ? a : b;
        return (int)(((uint)word >> (8 * (k & 3))) & 0xFFu);
    }
}
