using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Fused LoRA products for a small rank r. x: [m, in], A: [r, in], B: [out, r], h, g: [m, r],
/// y, dy: [m, out], dA: [r, in], dB: [out, r].
/// <code>
/// forward:  h[i,k]  = s·Σ_j x[i,j]·A[k,j];        y[i,o] += Σ_k h[i,k]·B[o,k]
/// backward: g[i,k]  = s·Σ_o dy[i,o]·B[o,k];       dx[i,j] = Σ_k g[i,k]·A[k,j]
///           dA[k,j] = Σ_i g[i,k]·x[i,j];          dB[o,k] = Σ_i dy[i,o]·h[i,k]
/// </code>
/// B is first transposed to Bᵀ [r, out] (r·out floats, small), so every inner loop is a SIMD dot or
/// axpy over a contiguous row of length in or out. One pass over the rows computes h then the row of
/// y (forward), or g then the row of dx (backward): x and dy are read once there. dA and dBᵀ are
/// reductions over rows, split into column tiles whose r×tile accumulators stay in cache while the
/// rows stream by (x and dy read once more); tiles never share outputs and walk the rows in order,
/// so results do not depend on the thread count. F32 accumulation throughout.
/// </summary>
public static unsafe class SimdLora
{
    private const int ColTile = 128;

    /// <summary>h = s·x·Aᵀ; y += h·Bᵀ.</summary>
    public static void Forward(float* x, float* a, float* b, float s, float* h, float* y, int m, int inF, int outF, int r)
    {
        CheckRank(r);
        var bt = Transpose(b, outF, r);                                  // [r, out]
        fixed (float* btp = bt)
        {
            float* btPtr = btp;
            ParallelWork.Rows(m, (long)r * (inF + outF), (i0, i1) => ForwardRows(x, a, btPtr, s, h, y, i0, i1, inF, outF, r));
        }
    }

    // Rows [i0, i1): h_i = s·A·x_i, then y_i += Σ_k h_ik·Bᵀ_k. Fully optimized at first call (no tier-0 SIMD).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRows(float* x, float* a, float* bt, float s, float* h, float* y, int i0, int i1, int inF, int outF, int r)
    {
        for (int i = i0; i < i1; i++)
        {
            var xi = new ReadOnlySpan<float>(x + (long)i * inF, inF);
            float* hi = h + (long)i * r;
            var yi = new Span<float>(y + (long)i * outF, outF);
            for (int k = 0; k < r; k++) hi[k] = s * TensorPrimitives.Dot(xi, new ReadOnlySpan<float>(a + (long)k * inF, inF));
            for (int k = 0; k < r; k++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(bt + (long)k * outF, outF), hi[k], yi, yi);
        }
    }

    /// <summary>g = s·dy·B; dx = g·A (skipped when dx is null); dA = gᵀ·x; dB = dyᵀ·h.</summary>
    public static void Backward(float* dy, float* x, float* a, float* b, float* h, float s, float* g, float* dx, float* dA, float* dB,
        int m, int inF, int outF, int r)
    {
        CheckRank(r);
        var bt = Transpose(b, outF, r);                                  // [r, out]
        var dbt = GC.AllocateUninitializedArray<float>(r * outF, pinned: true); // dBᵀ [r, out]
        fixed (float* btp = bt, dbtp = dbt)
        {
            float* btPtr = btp, dbtPtr = dbtp;
            // Rows: g_i[k] = s·dy_i·Bᵀ_k, then dx_i = Σ_k g_ik·A_k.
            ParallelWork.Rows(m, (long)r * (inF + outF), (i0, i1) => BackwardRows(dy, a, btPtr, s, g, dx, i0, i1, inF, outF, r));
            OuterSum(g, x, dA, m, r, inF);        // dA[k, :]  = Σ_i g[i,k]·x_i
            OuterSum(h, dy, dbtPtr, m, r, outF);  // dBᵀ[k, :] = Σ_i h[i,k]·dy_i
            for (int k = 0; k < r; k++)
                for (int o = 0; o < outF; o++) dB[(long)o * r + k] = dbtPtr[(long)k * outF + o];
        }
    }

    // Rows [i0, i1): g_i[k] = s·dy_i·Bᵀ_k, then dx_i = Σ_k g_ik·A_k.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardRows(float* dy, float* a, float* bt, float s, float* g, float* dx, int i0, int i1, int inF, int outF, int r)
    {
        for (int i = i0; i < i1; i++)
        {
            var dyi = new ReadOnlySpan<float>(dy + (long)i * outF, outF);
            float* gi = g + (long)i * r;
            for (int k = 0; k < r; k++) gi[k] = s * TensorPrimitives.Dot(dyi, new ReadOnlySpan<float>(bt + (long)k * outF, outF));
            if (dx == null) continue;
            var dxi = new Span<float>(dx + (long)i * inF, inF);
            dxi.Clear();
            for (int k = 0; k < r; k++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(a + (long)k * inF, inF), gi[k], dxi, dxi);
        }
    }

    // dst[k, j] = Σ_i coef[i, k]·rows[i, j] for coef [m, r], rows [m, n], dst [r, n]; one task per column tile.
    private static void OuterSum(float* coef, float* rows, float* dst, int m, int r, int n)
    {
        int tiles = (n + ColTile - 1) / ColTile;
        ParallelWork.ForItems(tiles, (long)m * r * ColTile, (t0, t1) =>
        {
            for (long t = t0; t < t1; t++) OuterSumTile(coef, rows, dst, m, r, n, (int)t * ColTile);
        });
    }

    // Columns [c0, c0 + ColTile) of dst: the r×tile accumulators stay in cache while the rows stream by.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OuterSumTile(float* coef, float* rows, float* dst, int m, int r, int n, int c0)
    {
        int w = Math.Min(ColTile, n - c0);
        for (int k = 0; k < r; k++) new Span<float>(dst + (long)k * n + c0, w).Clear();
        for (int i = 0; i < m; i++)
        {
            var src = new ReadOnlySpan<float>(rows + (long)i * n + c0, w);
            float* ci = coef + (long)i * r;
            for (int k = 0; k < r; k++)
            {
                var d = new Span<float>(dst + (long)k * n + c0, w);
                TensorPrimitives.MultiplyAdd(src, ci[k], d, d);
            }
        }
    }

    private static float[] Transpose(float* b, int outF, int r)
    {
        var bt = GC.AllocateUninitializedArray<float>(r * outF, pinned: true);
        for (int o = 0; o < outF; o++)
            for (int k = 0; k < r; k++) bt[(long)k * outF + o] = b[(long)o * r + k];
        return bt;
    }

    private static void CheckRank(int r)
    {
        if (r < 1) throw new ArgumentOutOfRangeException(nameof(r), r, "LoRA rank must be at least 1.");
    }
}
