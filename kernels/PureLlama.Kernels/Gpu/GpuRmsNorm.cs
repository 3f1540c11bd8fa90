// RMSNorm forward and backward (GPU form of RmsNorm in docs/kernels/contracts.md).
//
// Forward:  rstd[r] = 1/√(mean_c x[r,c]² + eps);  y[r,c] = x[r,c]·rstd[r]·w[c]  (w F32 or BF16).
// Backward: g = dy·w;  dx[r,c] = rstd·g − x·rstd³·(Σ_c g·x)/dim;  dw[c] += Σ_r dy[r,c]·x[r,c]·rstd[r].
// Thread mapping: forward and dx use one group per row; threads stride over the row's columns
// (coalesced), reduce Σx² (or Σg·x) with warp shuffles + shared memory (GpuGroupReduce), then
// stride again to write. dw is a column reduction laid out like GpuReduce.SumOverRows: a group
// owns 32 columns, its 32-thread slices take interleaved rows, and the slice partials are added
// in a fixed order (deterministic, no atomics).
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>RMSNorm on ILGPU, F32 or BF16 weights.</summary>
internal static class GpuRmsNorm
{
    /// <summary>y = x·rstd·w per row; rstd [rows] is written. x, y [rows, dim]; y may alias x.</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, ArrayView<float> rstd, int rows, int dim, float eps)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(ForwardKernel)
            (stream, k.PerRow(rows), x, w, y, rstd, dim, eps);
    }

    /// <summary>Forward with BF16 weights (ushort bits).</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> y, ArrayView<float> rstd, int rows, int dim, float eps)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int, float>(ForwardBf16Kernel)
            (stream, k.PerRow(rows), x, w, y, rstd, dim, eps);
    }

    /// <summary>
    /// dx (written) and dw (accumulated, +=) from dy, x, w and the forward's rstd.
    /// Pass an empty <paramref name="dw"/> to skip the weight gradient (frozen weights).
    /// </summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> w, ArrayView<float> rstd,
        ArrayView<float> dx, ArrayView<float> dw, int rows, int dim)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(BackwardKernel)
            (stream, k.PerRow(rows), dy, x, w, rstd, dx, dim);
        if (dw.Length > 0) WeightGrad(stream, k, dy, x, rstd, dw, rows, dim);
    }

    /// <summary>Backward with BF16 weights: dx written, dw (F32, +=) unless empty.</summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> dy, ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> rstd,
        ArrayView<float> dx, ArrayView<float> dw, int rows, int dim)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, int>(BackwardBf16Kernel)
            (stream, k.PerRow(rows), dy, x, w, rstd, dx, dim);
        if (dw.Length > 0) WeightGrad(stream, k, dy, x, rstd, dw, rows, dim);
    }

    private static void WeightGrad(AcceleratorStream stream, GpuKernelCache k, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> rstd, ArrayView<float> dw, int rows, int dim) =>
        k.Load<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(WeightGradKernel)
            (stream, k.ColumnTiles(dim), dy, x, rstd, dw, rows, dim);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RowRstd(ArrayView<float> x, long row, int dim, float eps)
    {
        float ss = 0f;
        for (int c = Group.IdxX; c < dim; c += Group.DimX)
        {
            float v = x[row + c];
            ss += v * v;
        }
        ss = GpuGroupReduce.GroupSum(ss);
        return 1f / XMath.Sqrt(ss / dim + eps);
    }

    [GpuKernel]
    internal static void ForwardKernel(ArrayView<float> x, ArrayView<float> w, ArrayView<float> y, ArrayView<float> rstd, int dim, float eps)
    {
        long row = (long)Grid.IdxX * dim;
        float r = RowRstd(x, row, dim, eps);
        for (int c = Group.IdxX; c < dim; c += Group.DimX) y[row + c] = x[row + c] * r * w[c];
        if (Group.IdxX == 0) rstd[Grid.IdxX] = r;
    }

    [GpuKernel]
    internal static void ForwardBf16Kernel(ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> y, ArrayView<float> rstd, int dim, float eps)
    {
        long row = (long)Grid.IdxX * dim;
        float r = RowRstd(x, row, dim, eps);
        for (int c = Group.IdxX; c < dim; c += Group.DimX) y[row + c] = x[row + c] * r * GpuBits.Bf16ToF32(w[c]);
        if (Group.IdxX == 0) rstd[Grid.IdxX] = r;
    }

    [GpuKernel]
    internal static void BackwardKernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> w, ArrayView<float> rstd, ArrayView<float> dx, int dim)
    {
        long row = (long)Grid.IdxX * dim;
        float dot = 0f;
        for (int c = Group.IdxX; c < dim; c += Group.DimX) dot += dy[row + c] * w[c] * x[row + c];
        dot = GpuGroupReduce.GroupSum(dot);
        float r = rstd[Grid.IdxX];
        float coef = r * r * r * dot / dim;
        for (int c = Group.IdxX; c < dim; c += Group.DimX) dx[row + c] = r * dy[row + c] * w[c] - x[row + c] * coef;
    }

    [GpuKernel]
    internal static void BackwardBf16Kernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<ushort> w, ArrayView<float> rstd, ArrayView<float> dx, int dim)
    {
        long row = (long)Grid.IdxX * dim;
        float dot = 0f;
        for (int c = Group.IdxX; c < dim; c += Group.DimX) dot += dy[row + c] * GpuBits.Bf16ToF32(w[c]) * x[row + c];
        dot = GpuGroupReduce.GroupSum(dot);
        float r = rstd[Grid.IdxX];
        float coef = r * r * r * dot / dim;
        for (int c = Group.IdxX; c < dim; c += Group.DimX) dx[row + c] = r * dy[row + c] * GpuBits.Bf16ToF32(w[c]) - x[row + c] * coef;
    }

    [GpuKernel]
    internal static void WeightGradKernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> rstd, ArrayView<float> dw, int rows, int dim)
    {
        int c = Grid.IdxX * 32 + (Group.IdxX & 31);
        int slices = Group.DimX >> 5;
        float acc = 0f;
        if (c < dim)
            for (int r = Group.IdxX >> 5; r < rows; r += slices)
            {
                long i = (long)r * dim + c;
                acc += dy[i] * x[i] * rstd[r];
            }
        float s = GpuGroupReduce.ColumnTileSum(acc);
        if (Group.IdxX < 32 && c < dim) dw[c] += s;
    }
}
