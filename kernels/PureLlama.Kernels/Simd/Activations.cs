using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// SiLU and SwiGLU (the Llama MLP gate), with their backwards. All buffers: [n].
/// <code>
/// σ(x) = 1/(1 + e^−x)
/// Silu:           y  = x·σ(x)
/// SiluBackward:   dx = dy·σ(x)·(1 + x·(1 − σ(x)))
/// SwiGlu:         y  = silu(g)·u
/// SwiGluBackward: dg = dy·u·σ(g)·(1 + g·(1 − σ(g))),  du = dy·silu(g)
/// </code>
/// Every output may alias any input exactly (each vector is loaded before it is stored).
/// e^x uses the .NET vector Exp (Vector512/256, chosen at run time).
/// </summary>
public static unsafe class Activations
{
    /// <summary>y = x·σ(x).</summary>
    public static void Silu(float* x, float* y, long n) => ParallelWork.For(n, (s, e) =>
    {
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16) { var v = Vector512.Load(x + i); Vector512.Store(v * Sigmoid(v), y + i); }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8) { var v = Vector256.Load(x + i); Vector256.Store(v * Sigmoid(v), y + i); }
        for (; i < e; i++) y[i] = x[i] * Sigmoid(x[i]);
    });

    /// <summary>dx = dy·σ(x)·(1 + x·(1 − σ(x))).</summary>
    public static void SiluBackward(float* x, float* dy, float* dx, long n) => ParallelWork.For(n, (s, e) =>
    {
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16)
            {
                var v = Vector512.Load(x + i);
                var sg = Sigmoid(v);
                Vector512.Store(Vector512.Load(dy + i) * sg * (Vector512<float>.One + v * (Vector512<float>.One - sg)), dx + i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8)
            {
                var v = Vector256.Load(x + i);
                var sg = Sigmoid(v);
                Vector256.Store(Vector256.Load(dy + i) * sg * (Vector256<float>.One + v * (Vector256<float>.One - sg)), dx + i);
            }
        for (; i < e; i++)
        {
            float v = x[i], sg = Sigmoid(v);
            dx[i] = dy[i] * sg * (1 + v * (1 - sg));
        }
    });

    /// <summary>y = silu(g)·u.</summary>
    public static void SwiGlu(float* g, float* u, float* y, long n) => ParallelWork.For(n, (s, e) =>
    {
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16) { var v = Vector512.Load(g + i); Vector512.Store(v * Sigmoid(v) * Vector512.Load(u + i), y + i); }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8) { var v = Vector256.Load(g + i); Vector256.Store(v * Sigmoid(v) * Vector256.Load(u + i), y + i); }
        for (; i < e; i++) y[i] = g[i] * Sigmoid(g[i]) * u[i];
    });

    /// <summary>dg = dy·u·silu'(g), du = dy·silu(g).</summary>
    public static void SwiGluBackward(float* g, float* u, float* dy, float* dg, float* du, long n) => ParallelWork.For(n, (s, e) =>
    {
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16)
            {
                Vector512<float> v = Vector512.Load(g + i), vu = Vector512.Load(u + i), vdy = Vector512.Load(dy + i);
                var sg = Sigmoid(v);
                Vector512.Store(vdy * vu * sg * (Vector512<float>.One + v * (Vector512<float>.One - sg)), dg + i);
                Vector512.Store(vdy * v * sg, du + i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8)
            {
                Vector256<float> v = Vector256.Load(g + i), vu = Vector256.Load(u + i), vdy = Vector256.Load(dy + i);
                var sg = Sigmoid(v);
                Vector256.Store(vdy * vu * sg * (Vector256<float>.One + v * (Vector256<float>.One - sg)), dg + i);
                Vector256.Store(vdy * v * sg, du + i);
            }
        for (; i < e; i++)
        {
            float v = g[i], vu = u[i], vdy = dy[i], sg = Sigmoid(v);
            dg[i] = vdy * vu * sg * (1 + v * (1 - sg));
            du[i] = vdy * v * sg;
        }
    });

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
}
