namespace PureLlama.Quantization;

/// <summary>
/// Round-to-nearest group quantization: each output row's group of input columns gets its own min-max
/// <see cref="QuantGrid"/> and every weight is rounded onto it independently (the baseline GPTQ and AWQ improve on).
/// </summary>
public static class Rtn
{
    /// <summary>Quantizes a weight W [out, in] (row-major) with consecutive groups.</summary>
    public static GroupQuantized Quantize(ReadOnlySpan<float> weight, int rows, int columns, GroupQuantOptions? quantOptions = null)
    {
        var options = quantOptions ?? new GroupQuantOptions();
        options.Validate(rows, columns);
        if (weight.Length != (long)rows * columns) throw new ArgumentException($"Weight has {weight.Length} elements, expected [{rows}, {columns}].", nameof(weight));
        int groups = options.GroupCount(columns), width = options.Width(columns);
        var w = weight.ToArray();
        var codes = new byte[w.Length];
        var scales = new float[(long)groups * rows];
        var zeros = new byte[scales.Length];
        Parallel.For(0, rows, o =>
        {
            var buffer = new double[width];
            for (int g = 0; g < groups; g++)
            {
                int c0 = g * width, n = Math.Min(width, columns - c0);
                for (int c = 0; c < n; c++) buffer[c] = w[(long)o * columns + c0 + c];
                var grid = QuantGrid.Fit(buffer.AsSpan(0, n), options.Bits, options.Symmetric);
                scales[(long)g * rows + o] = grid.Scale;
                zeros[(long)g * rows + o] = grid.Zero;
                for (int c = 0; c < n; c++) codes[(long)o * columns + c0 + c] = grid.Code(buffer[c]);
            }
        });
        var gIdx = new int[columns];
        for (int i = 0; i < columns; i++) gIdx[i] = i / width;
        return new GroupQuantized(rows, columns, options.Bits, options.GroupSize, groups, options.Symmetric, codes, scales, zeros, gIdx);
    }
}
