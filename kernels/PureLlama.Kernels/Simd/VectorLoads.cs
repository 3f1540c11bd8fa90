using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// A read-only float operand that may be stored as F32 or as BF16 bits (widened on the fly:
/// f32 bits = bf16 bits &lt;&lt; 16). Kernels take it as a generic struct parameter so the JIT
/// specialises each instantiation and the loads inline.
/// </summary>
internal unsafe interface IFloatSource
{
    Vector512<float> Load16(long i);
    Vector256<float> Load8(long i);
    float Get(long i);
}

/// <summary>F32 storage.</summary>
internal readonly unsafe struct F32Source(float* p) : IFloatSource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Load16(long i) => Vector512.Load(p + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Load8(long i) => Vector256.Load(p + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Get(long i) => p[i];
}

/// <summary>BF16 storage (ushort bits).</summary>
internal readonly unsafe struct Bf16Source(ushort* p) : IFloatSource
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Load16(long i) => VectorLoads.Bf16x16(p + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Load8(long i) => VectorLoads.Bf16x8(p + i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Get(long i) => BitConverter.Int32BitsToSingle(p[i] << 16);
}

/// <summary>Vector widening loads of bf16 bits.</summary>
internal static unsafe class VectorLoads
{
    /// <summary>16 bf16 values → 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Bf16x16(ushort* p) =>
        Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe()), 16).AsSingle();

    /// <summary>8 bf16 values → 8 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Bf16x8(ushort* p) =>
        Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe()), 16).AsSingle();
}
