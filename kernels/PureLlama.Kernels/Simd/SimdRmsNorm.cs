using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// RMSNorm over the last dimension. x, y, dy, dx: [rows, dim]; w, dw: [dim]; rstd: [rows].
/// <code>
/// forward:  rstd[r] = 1/√(mean_c x[r,c]² + eps);   y[r,c] = x[r,c]·rstd[r]·w[c]
/// backward: g = dy·w;  dx = rstd·g − x·rstd³·(Σ_c g·x)/dim;  dw[c] += Σ_r dy[r,c]·x[r,c]·rstd[r]
/// </code>
/// Numerics: Σx² and Σg·x are F32 with 4 vector accumulators (FMA) — dim is at most a few
/// thousand, so this stays well inside 1e-5; the scalar 1/√ is taken in double. dw is reduced
/// over rows per column tile in groups of 64 rows, one tile per task, so it is deterministic.
/// w may be F32 or BF16 (widened on the fly). y may alias x; dx may alias dy.
/// </summary>
public static unsafe class SimdRmsNorm
{
    private const int ColTile = 128;
    private const int RowGroup = 64;

    /// <summary>Forward with F32 weight. rstd may be null (inference).</summary>
    public static void Forward(float* x, float* w, float* y, float* rstd, int rows, int dim, float eps) =>
        ForwardCore(x, new F32Source(w), y, rstd, rows, dim, eps);

    /// <summary>Forward with BF16 weight bits. rstd may be null (inference).</summary>
    public static void Forward(float* x, ushort* wBf16, float* y, float* rstd, int rows, int dim, float eps) =>
        ForwardCore(x, new Bf16Source(wBf16), y, rstd, rows, dim, eps);

    /// <summary>Backward with F32 weight: writes dx, accumulates into dw (skipped when dw is null).</summary>
    public static void Backward(float* dy, float* x, float* w, float* rstd, float* dx, float* dw, int rows, int dim) =>
        BackwardCore(dy, x, new F32Source(w), rstd, dx, dw, rows, dim);

    /// <summary>Backward with BF16 weight bits: writes dx, accumulates into dw (skipped when dw is null).</summary>
    public static void Backward(float* dy, float* x, ushort* wBf16, float* rstd, float* dx, float* dw, int rows, int dim) =>
        BackwardCore(dy, x, new Bf16Source(wBf16), rstd, dx, dw, rows, dim);

    private static void ForwardCore<TW>(float* x, TW w, float* y, float* rstd, int rows, int dim, float eps) where TW : struct, IFloatSource
    {
        ParallelWork.Rows(rows, dim, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                float* xr = x + (long)r * dim, yr = y + (long)r * dim;
                float ss = SimdReduce.Dot(xr, xr, dim);
                float s = (float)(1.0 / Math.Sqrt(ss / (double)dim + eps));
                if (rstd != null) rstd[r] = s;
                int c = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var vs = Vector512.Create(s);
                    for (; c <= dim - 16; c += 16) Vector512.Store(Vector512.Load(xr + c) * vs * w.Load16(c), yr + c);
                }
                else if (Vector256.IsHardwareAccelerated)
                {
                    var vs = Vector256.Create(s);
                    for (; c <= dim - 8; c += 8) Vector256.Store(Vector256.Load(xr + c) * vs * w.Load8(c), yr + c);
                }
                for (; c < dim; c++) yr[c] = xr[c] * s * w.Get(c);
            }
        });
    }

    private static void BackwardCore<TW>(float* dy, float* x, TW w, float* rstd, float* dx, float* dw, int rows, int dim) where TW : struct, IFloatSource
    {
        // dw first: it reads dy, which dx may overwrite.
        if (dw != null) WeightGradient(dy, x, rstd, dw, rows, dim);
        ParallelWork.Rows(rows, dim, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                float* dyr = dy + (long)r * dim, xr = x + (long)r * dim, dxr = dx + (long)r * dim;
                float s = rstd[r];
                float dot = GradDot(dyr, w, xr, dim);
                float k = -s * s * s * dot / dim;
                int c = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    Vector512<float> vs = Vector512.Create(s), vk = Vector512.Create(k);
                    for (; c <= dim - 16; c += 16)
                        Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(dyr + c) * w.Load16(c), vs, Vector512.Load(xr + c) * vk), dxr + c);
                }
                else if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> vs = Vector256.Create(s), vk = Vector256.Create(k);
                    for (; c <= dim - 8; c += 8)
                        Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(dyr + c) * w.Load8(c), vs, Vector256.Load(xr + c) * vk), dxr + c);
                }
                for (; c < dim; c++) dxr[c] = dyr[c] * w.Get(c) * s + xr[c] * k;
            }
        });
    }

    /// <summary>Σ_c dy[c]·w[c]·x[c].</summary>
    private static float GradDot<TW>(float* dy, TW w, float* x, int dim) where TW : struct, IFloatSource
    {
        int c = 0;
        float s = 0f;
        if (Vector512.IsHardwareAccelerated && dim >= 16)
        {
            Vector512<float> a0 = default, a1 = default;
            for (; c <= dim - 32; c += 32)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(dy + c) * w.Load16(c), Vector512.Load(x + c), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(dy + c + 16) * w.Load16(c + 16), Vector512.Load(x + c + 16), a1);
            }
            for (; c <= dim - 16; c += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(dy + c) * w.Load16(c), Vector512.Load(x + c), a0);
            s = Vector512.Sum(a0 + a1);
        }
        else if (Vector256.IsHardwareAccelerated && dim >= 8)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; c <= dim - 16; c += 16)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(dy + c) * w.Load8(c), Vector256.Load(x + c), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Load(dy + c + 8) * w.Load8(c + 8), Vector256.Load(x + c + 8), a1);
            }
            for (; c <= dim - 8; c += 8) a0 = Vector256.FusedMultiplyAdd(Vector256.Load(dy + c) * w.Load8(c), Vector256.Load(x + c), a0);
            s = Vector256.Sum(a0 + a1);
        }
        for (; c < dim; c++) s += dy[c] * w.Get(c) * x[c];
        return s;
    }

    /// <summary>dw[c] += Σ_r dy[r,c]·x[r,c]·rstd[r], one column tile per task, rows in groups of 64.</summary>
    private static void WeightGradient(float* dy, float* x, float* rstd, float* dw, int rows, int dim)
    {
        int tiles = (dim + ColTile - 1) / ColTile;
        ParallelWork.Rows(tiles, (long)rows * Math.Min(dim, ColTile), (t0, t1) =>
        {
            float* total = stackalloc float[ColTile];
            float* group = stackalloc float[ColTile];
            for (int t = t0; t < t1; t++)
            {
                int c0 = t * ColTile, width = Math.Min(ColTile, dim - c0);
                new Span<float>(total, width).Clear();
                for (int g0 = 0; g0 < rows; g0 += RowGroup)
                {
                    int g1 = Math.Min(rows, g0 + RowGroup);
                    new Span<float>(group, width).Clear();
                    for (int r = g0; r < g1; r++)
                    {
                        float* dyr = dy + (long)r * dim + c0, xr = x + (long)r * dim + c0;
                        float s = rstd[r];
                        int c = 0;
                        if (Vector512.IsHardwareAccelerated)
                        {
                            var vs = Vector512.Create(s);
                            for (; c <= width - 16; c += 16)
                                Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(dyr + c) * Vector512.Load(xr + c), vs, Vector512.Load(group + c)), group + c);
                        }
                        else if (Vector256.IsHardwareAccelerated)
                        {
                            var vs = Vector256.Create(s);
                            for (; c <= width - 8; c += 8)
                                Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(dyr + c) * Vector256.Load(xr + c), vs, Vector256.Load(group + c)), group + c);
                        }
                        for (; c < width; c++) group[c] += dyr[c] * xr[c] * s;
                    }
                    SimdReduce.AddInto(group, total, width);
                }
                SimdReduce.AddInto(total, dw + c0, width);
            }
        });
    }
}
