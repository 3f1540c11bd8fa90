// Per-thread, 64-byte aligned scratch for the packed A and B blocks of the GEMM. Each thread
// keeps its buffers (grown on demand, never shrunk) so repeated large calls allocate nothing.
using System.Runtime.InteropServices;

namespace PureLlama.Kernels.Simd;

internal static unsafe class GemmBuffers
{
    [ThreadStatic] private static nint _a;
    [ThreadStatic] private static long _aLen;
    [ThreadStatic] private static nint _b;
    [ThreadStatic] private static long _bLen;

    /// <summary>At least <paramref name="floats"/> floats of packed-A scratch for this thread.</summary>
    public static float* A(long floats) => Ensure(ref _a, ref _aLen, floats);

    /// <summary>At least <paramref name="floats"/> floats of packed-B scratch for this thread.</summary>
    public static float* B(long floats) => Ensure(ref _b, ref _bLen, floats);

    private static float* Ensure(ref nint buf, ref long len, long floats)
    {
        if (len < floats)
        {
            if (buf != 0) NativeMemory.AlignedFree((void*)buf);
            buf = 0; len = 0;
            buf = (nint)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            len = floats;
        }
        return (float*)buf;
    }
}
