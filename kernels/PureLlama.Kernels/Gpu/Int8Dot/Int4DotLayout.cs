// How an INT4 group weight (GPTQ layout, any g_idx) is laid out for the GPU dp4a GEMV (GpuInt4DotGemv), on the host:
//
//   order = the columns sorted by group, stable (identity unless act-order):  column c of the layout is column order[c]
//   G[b]  = the group of the layout's columns 32b … 32b+31, which must all share one group (else no layout: the
//           weight keeps the exact F32-code path); true for equal groups of a multiple of 32 columns, act-order
//           included, for a short last group and for one group per channel.
//   qweight'[c/8, o] nibble c%8 = q[order[c], o]  (only built when order is not the identity)
namespace PureLlama.Kernels.Gpu;

/// <summary>The permutation (null: identity) and per-block groups of an INT4 weight's dp4a layout.</summary>
internal sealed class Int4DotLayout
{
    private Int4DotLayout(int[]? order, int[] blockGroups) { Order = order; BlockGroups = blockGroups; }

    /// <summary>Layout column c is weight column Order[c]; null when the columns are already sorted by group.</summary>
    public int[]? Order { get; }

    /// <summary>I32 [⌈in/32⌉]: the group of each 32-column activation block.</summary>
    public int[] BlockGroups { get; }

    /// <summary>The layout for <paramref name="gIdx"/> (I32 [in], values in [0, groups)), or null when a block would straddle two groups.</summary>
    public static Int4DotLayout? Plan(ReadOnlySpan<int> gIdx, int groups)
    {
        int cols = gIdx.Length;
        var count = new int[groups + 1];
        foreach (int g in gIdx)
        {
            if ((uint)g >= (uint)groups) throw new ArgumentException($"g_idx value {g} is outside [0, {groups}).", nameof(gIdx));
            count[g + 1]++;
        }
        for (int g = 0; g < groups; g++) count[g + 1] += count[g];   // count[g] = first layout column of group g
        var order = new int[cols];
        bool identity = true;
        for (int i = 0; i < cols; i++)
        {
            int c = count[gIdx[i]]++;
            order[c] = i;
            identity &= c == i;
        }
        int blocks = (cols + GpuQ8Activations.BlockSize - 1) / GpuQ8Activations.BlockSize;
        var blockGroups = new int[blocks];
        for (int b = 0; b < blocks; b++)
        {
            int first = b * GpuQ8Activations.BlockSize, last = Math.Min(cols, first + GpuQ8Activations.BlockSize) - 1;
            blockGroups[b] = gIdx[order[first]];
            if (gIdx[order[last]] != blockGroups[b]) return null;   // sorted, so first and last decide
        }
        return new Int4DotLayout(identity ? null : order, blockGroups);
    }

    /// <summary>qweight' I32 [cols/8, rows] with layout column c = weight column Order[c] (Order must be set).</summary>
    public int[] PermuteQWeight(ReadOnlySpan<int> qweight, int rows)
    {
        var order = Order ?? throw new InvalidOperationException("the layout is the identity; use qweight as it is.");
        int cols = order.Length;
        if (qweight.Length != (long)cols / 8 * rows) throw new ArgumentException($"qweight must hold [{cols / 8}, {rows}], has {qweight.Length} ints.", nameof(qweight));
        var result = new int[qweight.Length];
        for (int c = 0; c < cols; c++)
        {
            int i = order[c], src = i / 8 * rows, dst = c / 8 * rows, from = 4 * (i % 8), to = 4 * (c % 8);
            for (int o = 0; o < rows; o++)
                result[dst + o] |= (int)((((uint)qweight[src + o] >> from) & 15u) << to);
        }
        return result;
    }
}
