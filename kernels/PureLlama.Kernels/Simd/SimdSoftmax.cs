using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Softmax over the last dimension. x, y, dy, dx: [rows, cols].
/// <code>
/// forward:  m = max_c x[r,c];  y[r,c] = exp(x[r,c] − m) / Σ_c exp(x[r,c] − m)
/// backward: dx[r,c] = y[r,c]·(dy[r,c] − Σ_c dy[r,c]·y[r,c])
/// </code>
/// Subtracting the row max keeps every exponent ≤ 0 (no overflow). Row sums use 4 vector
/// accumulators. y may alias x; dx may alias dy.
/// </summary>
public static unsafe class SimdSoftmax
{
    /// <summary>Row-wise softmax.</summary>
    public static void Forward(float* x, float* y, int rows, int cols) => ParallelWork.Rows(rows, cols, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)r * cols, yr = y + (long)r * cols;
            float m = TensorPrimitives.Max(new ReadOnlySpan<float>(xr, cols));
            float sum = ExpShifted(xr, yr, cols, m);
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(yr, cols), 1f / sum, new Span<float>(yr, cols));
        }
    });

    /// <summary>Row-wise softmax backward from the forward output y.</summary>
    public static void Backward(float* y, float* dy, float* dx, int rows, int cols) => ParallelWork.Rows(rows, cols, (r0, r1) =>
    {
        for (int r = r0; r < r1; r++)
        {
            float* yr = y + (long)r * cols, dyr = dy + (long)r * cols, dxr = dx + (long)r * cols;
            float dot = SimdReduce.Dot(dyr, yr, cols);
            int c = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var vd = Vector512.Create(dot);
                for (; c <= cols - 16; c += 16) Vector512.Store(Vector512.Load(yr + c) * (Vector512.Load(dyr + c) - vd), dxr + c);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vd = Vector256.Create(dot);
                for (; c <= cols - 8; c += 8) Vector256.Store(Vector256.Load(yr + c) * (Vector256.Load(dyr + c) - vd), dxr + c);
            }
            for (; c < cols; c++) dxr[c] = yr[c] * (dyr[c] - dot);
        }
    });

    /// <summary>y[c] = exp(x[c] − m) (y may be null: only the sum is wanted); returns Σ_c exp(x[c] − m).</summary>
    internal static float ExpShifted(float* x, float* y, int n, float m)
    {
        int c = 0;
        float s = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var vm = Vector512.Create(m);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; c <= n - 64; c += 64)
            {
                var e0 = Vector512.Exp(Vector512.Load(x + c) - vm);
                var e1 = Vector512.Exp(Vector512.Load(x + c + 16) - vm);
                var e2 = Vector512.Exp(Vector512.Load(x + c + 32) - vm);
                var e3 = Vector512.Exp(Vector512.Load(x + c + 48) - vm);
                a0 += e0; a1 += e1; a2 += e2; a3 += e3;
                if (y != null) { Vector512.Store(e0, y + c); Vector512.Store(e1, y + c + 16); Vector512.Store(e2, y + c + 32); Vector512.Store(e3, y + c + 48); }
            }
            for (; c <= n - 16; c += 16)
            {
                var e0 = Vector512.Exp(Vector512.Load(x + c) - vm);
                a0 += e0;
                if (y != null) Vector512.Store(e0, y + c);
            }
            s = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vm = Vector256.Create(m);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; c <= n - 32; c += 32)
            {
                var e0 = Vector256.Exp(Vector256.Load(x + c) - vm);
                var e1 = Vector256.Exp(Vector256.Load(x + c + 8) - vm);
                var e2 = Vector256.Exp(Vector256.Load(x + c + 16) - vm);
                var e3 = Vector256.Exp(Vector256.Load(x + c + 24) - vm);
                a0 += e0; a1 += e1; a2 += e2; a3 += e3;
                if (y != null) { Vector256.Store(e0, y + c); Vector256.Store(e1, y + c + 8); Vector256.Store(e2, y + c + 16); Vector256.Store(e3, y + c + 24); }
            }
            for (; c <= n - 8; c += 8)
            {
                var e0 = Vector256.Exp(Vector256.Load(x + c) - vm);
                a0 += e0;
                if (y != null) Vector256.Store(e0, y + c);
            }
            s = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; c < n; c++)
        {
            float e = MathF.Exp(x[c] - m);
            s += e;
            if (y != null) y[c] = e;
        }
        return s;
    }
}
