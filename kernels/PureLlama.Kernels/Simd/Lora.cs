using System.Numerics.Tensors;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Fused LoRA products for a small rank r (a row's r values stay in cache while its outputs are formed).
/// x: [m, in], A: [r, in], B: [out, r], h, g: [m, r], y, dy: [m, out], dA: [r, in], dB: [out, r].
/// <code>
/// forward:  h[i,k]  = s·Σ_j x[i,j]·A[k,j];        y[i,o] += Σ_k h[i,k]·B[o,k]
/// backward: g[i,k]  = s·Σ_o dy[i,o]·B[o,k];       dx[i,j] = Σ_k g[i,k]·A[k,j]
///           dA[k,j] = Σ_i g[i,k]·x[i,j];          dB[o,k] = Σ_i dy[i,o]·h[i,k]
/// </code>
/// One pass over the rows computes h then the row of y (forward), or g then the row of dx (backward):
/// x and dy are read once. dA and dB are reductions over rows, split over their own rows/column tiles
/// (never over i), so every result is independent of the thread count. F32 accumulation throughout.
/// </summary>
public static unsafe class Lora
{
    private const int ColTile = 256;

    /// <summary>h = s·x·Aᵀ; y += h·Bᵀ.</summary>
    public static void Forward(float* x, float* a, float* b, float s, float* h, float* y, int m, int inF, int outF, int r)
    {
        CheckRank(r);
        ParallelWork.Rows(m, (long)r * (inF + outF), (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                float* xi = x + (long)i * inF, hi = h + (long)i * r, yi = y + (long)i * outF;
                for (int k = 0; k < r; k++) hi[k] = s * Reduce.Dot(xi, a + (long)k * inF, inF);
                for (int o = 0; o < outF; o++)
                {
                    float* bo = b + (long)o * r;
                    float acc = 0f;
                    for (int k = 0; k < r; k++) acc += hi[k] * bo[k];
                    yi[o] += acc;
                }
            }
        });
    }

    /// <summary>g = s·dy·B; dx = g·A (skipped when dx is null); dA = gᵀ·x; dB = dyᵀ·h.</summary>
    public static void Backward(float* dy, float* x, float* a, float* b, float* h, float s, float* g, float* dx, float* dA, float* dB,
        int m, int inF, int outF, int r)
    {
        CheckRank(r);
        // Rows: g_i = s·Bᵀ·dy_i (r accumulators), then dx_i = Σ_k g_ik·A_k.
        ParallelWork.Rows(m, (long)r * (inF + outF), (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                float* dyi = dy + (long)i * outF, gi = g + (long)i * r;
                var acc = new Span<float>(gi, r);
                acc.Clear();
                for (int o = 0; o < outF; o++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(b + (long)o * r, r), dyi[o], acc, acc);
                TensorPrimitives.Multiply(acc, s, acc);
                if (dx == null) continue;
                var dxi = new Span<float>(dx + (long)i * inF, inF);
                dxi.Clear();
                for (int k = 0; k < r; k++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(a + (long)k * inF, inF), gi[k], dxi, dxi);
            }
        });
        // dA: each (k, column tile) owns its outputs and walks the rows in order.
        int tiles = (inF + ColTile - 1) / ColTile;
        ParallelWork.ForItems((long)r * tiles, (long)m * ColTile, (t0, t1) =>
        {
            for (long t = t0; t < t1; t++)
            {
                int k = (int)(t / tiles), c0 = (int)(t % tiles) * ColTile, n = Math.Min(ColTile, inF - c0);
                var dst = new Span<float>(dA + (long)k * inF + c0, n);
                dst.Clear();
                for (int i = 0; i < m; i++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(x + (long)i * inF + c0, n), g[(long)i * r + k], dst, dst);
            }
        });
        // dB: each block of output rows owns dB[o, :] and walks the rows in order.
        ParallelWork.ForItems(outF, (long)m * r, (o0, o1) =>
        {
            new Span<float>(dB + o0 * r, (int)((o1 - o0) * r)).Clear();
            for (int i = 0; i < m; i++)
            {
                var hi = new ReadOnlySpan<float>(h + (long)i * r, r);
                float* dyi = dy + (long)i * outF;
                for (long o = o0; o < o1; o++)
                {
                    var row = new Span<float>(dB + o * r, r);
                    TensorPrimitives.MultiplyAdd(hi, dyi[o], row, row);
                }
            }
        });
    }

    private static void CheckRank(int r)
    {
        if (r < 1) throw new ArgumentOutOfRangeException(nameof(r), r, "LoRA rank must be at least 1.");
    }
}
