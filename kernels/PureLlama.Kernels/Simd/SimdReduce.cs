using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// Sums in F32.
/// <code>
/// Sum(x[n])                         = Σ_i x[i]
/// SumOverRows(x[rows, cols]) → y[cols]: y[c] (= | +=) Σ_r x[r, c]
/// SumOverCols(x[rows, cols]) → y[rows]: y[r] (= | +=) Σ_c x[r, c]
/// </code>
/// Accuracy: a contiguous run is summed with 4 independent vector accumulators (64 or 32 partial
/// sums); <see cref="Sum"/> cuts x into fixed 4096-element blocks and adds the block sums
/// pairwise, so its error grows like log(n) across blocks. Block boundaries do not depend on the
/// thread count, so results are bit-for-bit repeatable. SumOverRows adds rows in groups of 64
/// (partial sums added into the running total), limiting sequential error growth.
/// </summary>
public static unsafe class SimdReduce
{
    private const int Block = 4096;
    private const int RowGroup = 64;
    private const int ColTile = 256;

    /// <summary>Σ x. x: [n].</summary>
    public static float Sum(float* x, long n)
    {
        if (n <= 0) return 0f;
        if (n <= Block) return SumRun(x, (int)n);
        long blocks = (n + Block - 1) / Block;
        var partial = new float[blocks];
        ParallelWork.For(blocks, (s, e) =>
        {
            for (long b = s; b < e; b++)
            {
                long start = b * Block;
                partial[b] = SumRun(x + start, (int)Math.Min(Block, n - start));
            }
        }, grain: 8);
        return Pairwise(partial, 0, partial.Length);
    }

    /// <summary>y[c] = (accumulate ? y[c] : 0) + Σ_r x[r, c]. x: [rows, cols]; y: [cols].</summary>
    public static void SumOverRows(float* x, int rows, int cols, float* y, bool accumulate)
    {
        int tiles = (cols + ColTile - 1) / ColTile;
        ParallelWork.Rows(tiles, (long)rows * Math.Min(cols, ColTile), (t0, t1) =>
        {
            float* total = stackalloc float[ColTile];
            float* group = stackalloc float[ColTile];
            for (int t = t0; t < t1; t++)
            {
                int c0 = t * ColTile, w = Math.Min(ColTile, cols - c0);
                for (int c = 0; c < w; c++) total[c] = accumulate ? y[c0 + c] : 0f;
                for (int r0 = 0; r0 < rows; r0 += RowGroup)
                {
                    int r1 = Math.Min(rows, r0 + RowGroup);
                    Copy(x + (long)r0 * cols + c0, group, w);
                    for (int r = r0 + 1; r < r1; r++) AddInto(x + (long)r * cols + c0, group, w);
                    AddInto(group, total, w);
                }
                Copy(total, y + c0, w);
            }
        });
    }

    /// <summary>y[r] = (accumulate ? y[r] : 0) + Σ_c x[r, c]. x: [rows, cols]; y: [rows].</summary>
    public static void SumOverCols(float* x, int rows, int cols, float* y, bool accumulate)
    {
        ParallelWork.Rows(rows, cols, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                float s = SumRun(x + (long)r * cols, cols);
                y[r] = accumulate ? y[r] + s : s;
            }
        });
    }

    /// <summary>Σ x over one contiguous run, 4 vector accumulators.</summary>
    internal static float SumRun(float* x, int n)
    {
        int i = 0;
        float s = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 64; i += 64)
            {
                a0 += Vector512.Load(x + i); a1 += Vector512.Load(x + i + 16);
                a2 += Vector512.Load(x + i + 32); a3 += Vector512.Load(x + i + 48);
            }
            for (; i <= n - 16; i += 16) a0 += Vector512.Load(x + i);
            s = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 32; i += 32)
            {
                a0 += Vector256.Load(x + i); a1 += Vector256.Load(x + i + 8);
                a2 += Vector256.Load(x + i + 16); a3 += Vector256.Load(x + i + 24);
            }
            for (; i <= n - 8; i += 8) a0 += Vector256.Load(x + i);
            s = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++) s += x[i];
        return s;
    }

    /// <summary>Σ a·b over one contiguous run (fused multiply-add), 4 vector accumulators.</summary>
    internal static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float s = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 64; i += 64)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 32), Vector512.Load(b + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 48), Vector512.Load(b + i + 48), a3);
            }
            for (; i <= n - 16; i += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), a0);
            s = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= n - 32; i += 32)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), a3);
            }
            for (; i <= n - 8; i += 8) a0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), a0);
            s = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++) s = MathF.FusedMultiplyAdd(a[i], b[i], s);
        return s;
    }

    /// <summary>dst[i] += src[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AddInto(float* src, float* dst, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16) Vector512.Store(Vector512.Load(dst + i) + Vector512.Load(src + i), dst + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    private static void Copy(float* src, float* dst, int n) =>
        Buffer.MemoryCopy(src, dst, (long)n * sizeof(float), (long)n * sizeof(float));

    private static float Pairwise(float[] p, int start, int count)
    {
        if (count == 1) return p[start];
        int half = count / 2;
        return Pairwise(p, start, half) + Pairwise(p, start + half, count - half);
    }
}
