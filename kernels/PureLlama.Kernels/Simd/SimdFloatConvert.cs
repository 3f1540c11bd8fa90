using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using PureLlama.Kernels.Numerics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Float format conversions over n elements. BF16 and F16 are passed as ushort bits.
/// <code>
/// Bf16ToF32: f32 bits = bf16 bits &lt;&lt; 16                         (exact)
/// F32ToBf16: bf16 = (bits + 0x7FFF + ((bits &gt;&gt; 16) &amp; 1)) &gt;&gt; 16   (round to nearest, ties to even;
///            overflow rounds to ±∞; NaN → quiet NaN with the sign and top payload bits kept)
/// F32ToF16 / F16ToF32: IEEE binary16, round to nearest even (TensorPrimitives.ConvertToHalf/ToSingle)
/// </code>
/// </summary>
public static unsafe class SimdFloatConvert
{
    /// <summary>f32 → bf16 bits, round to nearest even.</summary>
    public static void F32ToBf16(float* x, ushort* y, long n) => ParallelWork.For(n, (s, e) =>
    {
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 32; i += 32)
                Vector512.Store(Vector512.Narrow(RoundBf16(Vector512.Load(x + i).AsUInt32()), RoundBf16(Vector512.Load(x + i + 16).AsUInt32())), y + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16)
                Vector256.Store(Vector256.Narrow(RoundBf16(Vector256.Load(x + i).AsUInt32()), RoundBf16(Vector256.Load(x + i + 8).AsUInt32())), y + i);
        for (; i < e; i++) y[i] = Bf16.FromFloat(x[i]);
    });

    /// <summary>bf16 bits → f32, exact.</summary>
    public static void Bf16ToF32(ushort* x, float* y, long n) => ParallelWork.For(n, (s, e) =>
    {
        for (long c = s; c < e; c += ParallelWork.MaxSpan)
            Bf16ToF32Run(x + c, y + c, (int)Math.Min(ParallelWork.MaxSpan, e - c));
    });

    /// <summary>f32 → f16 bits, round to nearest even.</summary>
    public static void F32ToF16(float* x, ushort* y, long n) => ParallelWork.For(n, (s, e) =>
    {
        for (long c = s; c < e; c += ParallelWork.MaxSpan)
        {
            int len = (int)Math.Min(ParallelWork.MaxSpan, e - c);
            TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(x + c, len), new Span<Half>((Half*)(y + c), len));
        }
    });

    /// <summary>f16 bits → f32, exact.</summary>
    public static void F16ToF32(ushort* x, float* y, long n) => ParallelWork.For(n, (s, e) =>
    {
        for (long c = s; c < e; c += ParallelWork.MaxSpan)
        {
            int len = (int)Math.Min(ParallelWork.MaxSpan, e - c);
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)(x + c), len), new Span<float>(y + c, len));
        }
    });

    /// <summary>Widens one contiguous run of bf16 bits to f32.</summary>
    internal static void Bf16ToF32Run(ushort* x, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 32; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(x + i));
                Vector512.Store(Vector512.ShiftLeft(lo, 16).AsSingle(), y + i);
                Vector512.Store(Vector512.ShiftLeft(hi, 16).AsSingle(), y + i + 16);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(x + i));
                Vector256.Store(Vector256.ShiftLeft(lo, 16).AsSingle(), y + i);
                Vector256.Store(Vector256.ShiftLeft(hi, 16).AsSingle(), y + i + 8);
            }
        for (; i < n; i++) y[i] = Bf16.ToFloat(x[i]);
    }

    private static Vector512<uint> RoundBf16(Vector512<uint> b)
    {
        var isNaN = Vector512.GreaterThan(b & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        var rounded = (b + (Vector512.Create(0x7FFFu) + ((b >> 16) & Vector512<uint>.One))) >> 16;
        return Vector512.ConditionalSelect(isNaN, (b >> 16) | Vector512.Create(0x0040u), rounded);
    }

    private static Vector256<uint> RoundBf16(Vector256<uint> b)
    {
        var isNaN = Vector256.GreaterThan(b & Vector256.Create(0x7FFF_FFFFu), Vector256.Create(0x7F80_0000u));
        var rounded = (b + (Vector256.Create(0x7FFFu) + ((b >> 16) & Vector256<uint>.One))) >> 16;
        return Vector256.ConditionalSelect(isNaN, (b >> 16) | Vector256.Create(0x0040u), rounded);
    }
}
