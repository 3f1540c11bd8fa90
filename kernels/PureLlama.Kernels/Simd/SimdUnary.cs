using System.Runtime.Intrinsics;
using PureLlama.Kernels.Unary;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// The one SIMD loop of the unary op family, closed over an op struct TOp (<see cref="IUnaryOp"/>):
/// <code>
/// Forward:        y[i]  = f(x[i])
/// Backward:       dx[i] = dy[i]·f'(x[i])
/// Gated:          y[i]  = f(g[i])·u[i]                       (SwiGLU when f = silu, GeGLU when f = gelu)
/// GatedBackward:  dg[i] = dy[i]·u[i]·f'(g[i]),  du[i] = dy[i]·f(g[i])
/// </code>
/// Vector512 or Vector256 bodies (chosen at run time) and a scalar tail; split across threads by
/// <see cref="ParallelWork"/>. Outputs may alias inputs exactly (each vector is loaded before it is stored).
/// </summary>
internal static unsafe class SimdUnary
{
    /// <summary>y = f(x) over n elements.</summary>
    public static void Forward<TOp>(float* x, float* y, long n) where TOp : struct, IUnaryOp => ParallelWork.For(n, (s, e) =>
    {
        var op = default(TOp);
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16) Vector512.Store(op.Apply(Vector512.Load(x + i)), y + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8) Vector256.Store(op.Apply(Vector256.Load(x + i)), y + i);
        for (; i < e; i++) y[i] = op.Apply(x[i]);
    });

    /// <summary>dx = dy·f'(x) over n elements.</summary>
    public static void Backward<TOp>(float* x, float* dy, float* dx, long n) where TOp : struct, IUnaryOp => ParallelWork.For(n, (s, e) =>
    {
        var op = default(TOp);
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16) Vector512.Store(Vector512.Load(dy + i) * op.Derivative(Vector512.Load(x + i)), dx + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8) Vector256.Store(Vector256.Load(dy + i) * op.Derivative(Vector256.Load(x + i)), dx + i);
        for (; i < e; i++) dx[i] = dy[i] * op.Derivative(x[i]);
    });

    /// <summary>y = f(g)·u over n elements.</summary>
    public static void Gated<TOp>(float* g, float* u, float* y, long n) where TOp : struct, IUnaryOp => ParallelWork.For(n, (s, e) =>
    {
        var op = default(TOp);
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16) Vector512.Store(op.Apply(Vector512.Load(g + i)) * Vector512.Load(u + i), y + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8) Vector256.Store(op.Apply(Vector256.Load(g + i)) * Vector256.Load(u + i), y + i);
        for (; i < e; i++) y[i] = op.Apply(g[i]) * u[i];
    });

    /// <summary>dg = dy·u·f'(g), du = dy·f(g) over n elements.</summary>
    public static void GatedBackward<TOp>(float* g, float* u, float* dy, float* dg, float* du, long n) where TOp : struct, IUnaryOp =>
        ParallelWork.For(n, (s, e) =>
    {
        var op = default(TOp);
        long i = s;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= e - 16; i += 16)
            {
                Vector512<float> vg = Vector512.Load(g + i), vu = Vector512.Load(u + i), vdy = Vector512.Load(dy + i);
                Vector512.Store(vdy * vu * op.Derivative(vg), dg + i);
                Vector512.Store(vdy * op.Apply(vg), du + i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= e - 8; i += 8)
            {
                Vector256<float> vg = Vector256.Load(g + i), vu = Vector256.Load(u + i), vdy = Vector256.Load(dy + i);
                Vector256.Store(vdy * vu * op.Derivative(vg), dg + i);
                Vector256.Store(vdy * op.Apply(vg), du + i);
            }
        for (; i < e; i++)
        {
            float vg = g[i], vu = u[i], vdy = dy[i];
            dg[i] = vdy * vu * op.Derivative(vg);
            du[i] = vdy * op.Apply(vg);
        }
    });
}
