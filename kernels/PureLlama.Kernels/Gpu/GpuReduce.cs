// Reductions (GPU form of Reduce in docs/kernels/contracts.md).
//
// Sum:         Σ_i x[i]. Each group strides over the input and reduces its threads' partials
//              (warp shuffles, then shared memory: GpuGroupReduce.GroupSum) to out[group].
//              One launch with one group when no scratch is given; with a scratch of P floats,
//              stage 1 writes up to P group partials and stage 2 (one group) sums them. The order
//              of additions is fixed by the launch shape, so results repeat run to run.
// SumOverRows: y[c] (=|+=) Σ_r x[r, c]. A group owns 32 columns and splits the rows into
//              S = G/32 slices: thread (slice, lane) sums rows slice, slice+S, … of column lane (a
//              warp reads 32 consecutive floats of one row: coalesced), then the S partials are
//              added in slice order through shared memory (GpuGroupReduce.ColumnTileSum).
// SumOverCols: y[r] (=|+=) Σ_c x[r, c]. One group per row: threads stride over the row's columns,
//              then a group reduction; thread 0 writes y[r].
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>Reductions on ILGPU: Sum, SumOverRows, SumOverCols.</summary>
internal static class GpuReduce
{
    /// <summary>
    /// result[0] = Σ_{i&lt;n} x[i]. With an empty <paramref name="scratch"/> one group does all the
    /// work (fine for losses and small tensors); pass a scratch of ~1024 floats for large n.
    /// </summary>
    public static void Sum(AcceleratorStream stream, ArrayView<float> x, long n, ArrayView<float> result, ArrayView<float> scratch = default)
    {
        var k = GpuKernelCache.For(stream);
        var kernel = k.Load<ArrayView<float>, long, ArrayView<float>>(SumKernel);
        long groups = Math.Min(scratch.Length, (n + k.RowGroupSize - 1) / k.RowGroupSize);
        groups = Math.Min(groups, 65535);
        if (groups <= 1)
        {
            kernel(stream, new KernelConfig(1, k.RowGroupSize), x, n, result);
            return;
        }
        kernel(stream, new KernelConfig((int)groups, k.RowGroupSize), x, n, scratch);
        kernel(stream, new KernelConfig(1, k.RowGroupSize), scratch, groups, result);
    }

    /// <summary>y[c] (=|+=) Σ_r x[r, c] for x [rows, cols].</summary>
    public static void SumOverRows(AcceleratorStream stream, ArrayView<float> x, int rows, int cols, ArrayView<float> y, bool accumulate)
    {
        var k = GpuKernelCache.For(stream);
        if (cols <= 0) return;
        k.Load<ArrayView<float>, int, int, ArrayView<float>, int>(SumOverRowsKernel)
            (stream, k.ColumnTiles(cols), x, rows, cols, y, accumulate ? 1 : 0);
    }

    /// <summary>y[r] (=|+=) Σ_c x[r, c] for x [rows, cols].</summary>
    public static void SumOverCols(AcceleratorStream stream, ArrayView<float> x, int rows, int cols, ArrayView<float> y, bool accumulate)
    {
        if (rows <= 0) return;
        var k = GpuKernelCache.For(stream);
        k.Load<ArrayView<float>, int, int, ArrayView<float>, int>(SumOverColsKernel)
            (stream, k.PerRow(rows), x, rows, cols, y, accumulate ? 1 : 0);
    }

    [GpuKernel]
    internal static void SumKernel(ArrayView<float> x, long n, ArrayView<float> output)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        float acc0 = 0f, acc1 = 0f;
        long i = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        for (; i + stride < n; i += 2 * stride)
        {
            acc0 += x[i];
            acc1 += x[i + stride];
        }
        if (i < n) acc0 += x[i];
        float total = GpuGroupReduce.GroupSum(acc0 + acc1);
        if (Group.IdxX == 0) output[Grid.IdxX] = total;
    }

    [GpuKernel]
    internal static void SumOverRowsKernel(ArrayView<float> x, int rows, int cols, ArrayView<float> y, int accumulate)
    {
        int c = Grid.IdxX * 32 + (Group.IdxX & 31);
        int slices = Group.DimX >> 5;
        float acc = 0f;
        if (c < cols)
            for (int r = Group.IdxX >> 5; r < rows; r += slices) acc += x[(long)r * cols + c];
        float s = GpuGroupReduce.ColumnTileSum(acc);
        if (Group.IdxX < 32 && c < cols) y[c] = accumulate != 0 ? y[c] + s : s;
    }

    [GpuKernel]
    internal static void SumOverColsKernel(ArrayView<float> x, int rows, int cols, ArrayView<float> y, int accumulate)
    {
        int r = Grid.IdxX;
        long row = (long)r * cols;
        float acc = 0f;
        for (int c = Group.IdxX; c < cols; c += Group.DimX) acc += x[row + c];
        float s = GpuGroupReduce.GroupSum(acc);
        if (Group.IdxX == 0) y[r] = accumulate != 0 ? y[r] + s : s;
    }
}
