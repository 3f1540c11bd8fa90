namespace PureLlama.Quantization;

/// <summary>Options of <see cref="Awq"/> (defaults as AutoAWQ).</summary>
/// <param name="Quant">Bits, group size and symmetry of the grids (AWQ: 4-bit, group 128, asymmetric).</param>
/// <param name="Grid">Points of the α grid over [0, 1).</param>
/// <param name="MaxShrink">Largest clipping shrink of a group's range (0.5: down to half the max).</param>
/// <param name="ClipSampleRows">Input rows the clipping search uses (evenly spaced, AutoAWQ's 512 tokens).</param>
public readonly record struct AwqOptions(GroupQuantOptions Quant, int Grid = 20, double MaxShrink = 0.5, int ClipSampleRows = 512)
{
    /// <summary>4-bit, group 128, asymmetric, 20 grid points, shrink up to 0.5.</summary>
    public AwqOptions() : this(new GroupQuantOptions()) { }
}

/// <summary>The chosen per-input-channel scales of a group of linears sharing one input.</summary>
/// <param name="Scales">s [in]: multiply the weights' input columns by s, divide the input (the preceding op) by s.</param>
/// <param name="Alpha">The chosen exponent: s = mean|x|^α, normalised.</param>
/// <param name="Loss">Mean squared output error with these scales.</param>
/// <param name="LossWithoutScales">Mean squared output error of plain RTN (α = 0).</param>
public sealed record AwqScales(float[] Scales, double Alpha, double Loss, double LossWithoutScales);

/// <summary>
/// AWQ (Lin et al. 2023), activation-aware weight quantization: input channels with large activations
/// matter most, so scale them up before rounding. For linears W_j sharing an input X, search α on a grid
/// for s = a^α / √(max·min) with a = mean|X| per channel, minimising Σ_j ‖X·W_jᵀ − (X/s)·Q(W_j·diag s)ᵀ‖²;
/// then shrink each group's range (clipping) where that lowers the group's output error. The scale is
/// folded into the preceding op (<see cref="AwqFold"/>), so the unquantized function is unchanged.
/// </summary>
public static class Awq
{
    /// <summary>a[c] = mean over rows of |x[·, c]| (float64 sums).</summary>
    public static float[] ActivationMeans(HostMatrix x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var sums = new double[x.Columns];
        for (int r = 0; r < x.Rows; r++)
            for (int c = 0; c < x.Columns; c++) sums[c] += Math.Abs(x.Data[(long)r * x.Columns + c]);
        return Array.ConvertAll(sums, s => (float)(s / Math.Max(1, x.Rows)));
    }

    /// <summary>Searches the scales of the linears <paramref name="weights"/> (each [out_j, in]) that all read <paramref name="x"/> [n, in].</summary>
    public static AwqScales SearchScales(HostMatrix x, IReadOnlyList<HostMatrix> weights, AwqOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weights);
        var opt = Resolve(options);
        if (weights.Count == 0) throw new ArgumentException("AWQ needs at least one weight.", nameof(weights));
        foreach (var w in weights)
            if (w.Columns != x.Columns) throw new ArgumentException($"A weight [{w.Rows}, {w.Columns}] does not read inputs of {x.Columns} features.", nameof(weights));
        var reference = weights.Select(x.TimesTransposed).ToArray();
        var mean = ActivationMeans(x);
        double bestLoss = double.PositiveInfinity, bestAlpha = 0, plainLoss = double.NaN;
        float[] best = [];
        for (int step = 0; step < opt.Grid; step++)
        {
            double alpha = (double)step / opt.Grid;
            var s = ScalesFor(mean, alpha);
            var xs = DivideColumns(x, s);
            double loss = 0;
            for (int j = 0; j < weights.Count; j++)
            {
                var scaled = weights[j].Clone();
                AwqFold.ScaleInputColumns(scaled, s);
                var q = new HostMatrix(Rtn.Quantize(scaled.Data, scaled.Rows, scaled.Columns, opt.Quant).Dequantize(), scaled.Rows, scaled.Columns);
                loss += MeanSquaredDifference(xs.TimesTransposed(q), reference[j]);
            }
            loss /= weights.Count;
            if (step == 0) plainLoss = loss;
            if (loss < bestLoss) { bestLoss = loss; bestAlpha = alpha; best = s; }
        }
        return new AwqScales(best, bestAlpha, bestLoss, plainLoss);
    }

    /// <summary>
    /// AWQ's clipping search on a (scaled) weight [out, in] reading (scaled) inputs x [n, in]: for each row and
    /// group, the range max|w|·(1 − k/grid), k = 0 … grid·maxShrink − 1, whose RTN rounding of the clipped
    /// group gives the least mean squared group output Σ_{c∈g} x[·,c]·w[o,c]. Returns the limits [out, groups].
    /// </summary>
    public static float[] SearchClip(HostMatrix x, HostMatrix weight, AwqOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        var opt = Resolve(options);
        if (weight.Columns != x.Columns) throw new ArgumentException($"Weight [{weight.Rows}, {weight.Columns}] does not read inputs of {x.Columns} features.", nameof(weight));
        x = SampleRows(x, opt.ClipSampleRows);
        int rows = weight.Rows, cols = weight.Columns, n = x.Rows;
        int width = opt.Quant.Width(cols), groups = opt.Quant.GroupCount(cols);
        var limits = new float[(long)rows * groups];
        int steps = Math.Max(1, (int)(opt.MaxShrink * opt.Grid));
        for (int g = 0; g < groups; g++)
        {
            int c0 = g * width, gw = Math.Min(width, cols - c0);
            var xg = Slice(x, c0, gw);
            var wg = Slice(weight, c0, gw);
            var reference = xg.TimesTransposed(wg); // [n, out]
            var maxAbs = new float[rows];
            for (int o = 0; o < rows; o++)
                for (int c = 0; c < gw; c++) maxAbs[o] = Math.Max(maxAbs[o], Math.Abs(wg.Data[(long)o * gw + c]));
            var bestErr = Enumerable.Repeat(double.PositiveInfinity, rows).ToArray();
            for (int k = 0; k < steps; k++)
            {
                double f = 1.0 - (double)k / opt.Grid;
                var clipped = new float[wg.Data.Length];
                Parallel.For(0, rows, o =>
                {
                    float lim = (float)(maxAbs[o] * f);
                    var row = new double[gw];
                    for (int c = 0; c < gw; c++) row[c] = Math.Clamp(wg.Data[(long)o * gw + c], -lim, lim);
                    var grid = QuantGrid.Fit(row, opt.Quant.Bits, opt.Quant.Symmetric);
                    for (int c = 0; c < gw; c++) clipped[(long)o * gw + c] = (float)grid.Round(row[c]);
                });
                var output = xg.TimesTransposed(new HostMatrix(clipped, rows, gw));
                for (int o = 0; o < rows; o++)
                {
                    double err = 0;
                    for (int r = 0; r < n; r++) { double d = output[(long)r * rows + o] - reference[(long)r * rows + o]; err += d * d; }
                    if (err < bestErr[o]) { bestErr[o] = err; limits[(long)o * groups + g] = (float)(maxAbs[o] * f); }
                }
            }
        }
        return limits;
    }

    /// <summary>Clamps each group of each row of <paramref name="weight"/> to ±limit (limits [out, groups] from <see cref="SearchClip"/>).</summary>
    public static void ApplyClip(HostMatrix weight, float[] limits, GroupQuantOptions quant)
    {
        ArgumentNullException.ThrowIfNull(weight);
        int cols = weight.Columns, width = quant.Width(cols), groups = quant.GroupCount(cols);
        if (limits.Length != (long)weight.Rows * groups) throw new ArgumentException($"Clip limits have {limits.Length} elements, expected [{weight.Rows}, {groups}].", nameof(limits));
        for (int o = 0; o < weight.Rows; o++)
            for (int c = 0; c < cols; c++)
            {
                float lim = limits[(long)o * groups + c / width];
                ref float v = ref weight.Data[(long)o * cols + c];
                v = Math.Clamp(v, -lim, lim);
            }
    }

    /// <summary>
    /// The whole AWQ recipe for one linear W [out, in] reading x [n, in]: scale search, W·diag(s), clipping search, RTN.
    /// The caller must fold 1/s into the op producing the input (<see cref="AwqFold"/>); ŵ_effective = Ŵ·diag(1/s).
    /// </summary>
    public static (GroupQuantized Weight, AwqScales Scales) QuantizeLinear(HostMatrix x, HostMatrix weight, AwqOptions? options = null, bool clip = true)
    {
        var opt = Resolve(options);
        var scales = SearchScales(x, [weight], opt);
        var scaled = weight.Clone();
        AwqFold.ScaleInputColumns(scaled, scales.Scales);
        if (clip)
        {
            var xs = DivideColumns(x, scales.Scales);
            ApplyClip(scaled, SearchClip(xs, scaled, opt), opt.Quant);
        }
        return (Rtn.Quantize(scaled.Data, scaled.Rows, scaled.Columns, opt.Quant), scales);
    }

    /// <summary>s = max(a, 1e-4)^α normalised by √(max s · min s) (AutoAWQ).</summary>
    public static float[] ScalesFor(ReadOnlySpan<float> activationMean, double alpha)
    {
        var s = new double[activationMean.Length];
        double max = 0, min = double.PositiveInfinity;
        for (int c = 0; c < s.Length; c++)
        {
            s[c] = Math.Pow(Math.Max(activationMean[c], 1e-4), alpha);
            max = Math.Max(max, s[c]); min = Math.Min(min, s[c]);
        }
        double norm = Math.Sqrt(max * min);
        return Array.ConvertAll(s, v => (float)(v / norm));
    }

    /// <summary>x·diag(1/s): the input the scaled weights see after folding.</summary>
    public static HostMatrix DivideColumns(HostMatrix x, ReadOnlySpan<float> s)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (s.Length != x.Columns) throw new ArgumentException($"{s.Length} scales for {x.Columns} columns.", nameof(s));
        var y = x.Clone();
        for (int r = 0; r < x.Rows; r++)
            for (int c = 0; c < x.Columns; c++) y.Data[(long)r * x.Columns + c] /= s[c];
        return y;
    }

    private static AwqOptions Resolve(AwqOptions? options)
    {
        var opt = options ?? new AwqOptions();
        if (opt.Quant.Bits == 0) opt = opt with { Quant = new GroupQuantOptions() };
        if (opt.Grid <= 0) throw new ArgumentOutOfRangeException(nameof(options), opt.Grid, "AWQ grid must be positive.");
        return opt;
    }

    /// <summary>At most <paramref name="count"/> evenly spaced rows of x (x itself when it has no more).</summary>
    private static HostMatrix SampleRows(HostMatrix x, int count)
    {
        if (count <= 0 || x.Rows <= count) return x;
        var data = new float[(long)count * x.Columns];
        for (int r = 0; r < count; r++) Array.Copy(x.Data, (long)r * x.Rows / count * x.Columns, data, (long)r * x.Columns, x.Columns);
        return new HostMatrix(data, count, x.Columns);
    }

    private static HostMatrix Slice(HostMatrix m, int c0, int width)
    {
        var data = new float[(long)m.Rows * width];
        for (int r = 0; r < m.Rows; r++) Array.Copy(m.Data, (long)r * m.Columns + c0, data, (long)r * width, width);
        return new HostMatrix(data, m.Rows, width);
    }

    private static double MeanSquaredDifference(float[] a, float[] b)
    {
        double sum = 0;
        for (long i = 0; i < a.Length; i++) { double d = a[i] - b[i]; sum += d * d; }
        return sum / Math.Max(1, a.Length);
    }
}
