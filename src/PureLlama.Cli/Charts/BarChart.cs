using System.Globalization;

namespace PureLlama.Cli.Charts;

/// <summary>One bar series of a <see cref="BarChart"/>: a value per group, in [0, the chart's maximum].</summary>
internal sealed record BarSeries(string Name, Rgb Color, IReadOnlyList<double> Values);

/// <summary>
/// Grouped bars (scores before and after, speed ratios): one group per category, one bar per series, each labelled
/// with its value, a 0-to-<c>max</c> axis with five grid steps, an optional reference line (a ratio of 1), a legend and a title.
/// </summary>
internal static class BarChart
{
    private const int Left = 48, Right = 16, Top = 40, Bottom = 36;
    private static readonly Rgb Axis = new(40, 40, 40), Grid = new(225, 225, 225), ReferenceColor = new(200, 30, 30);

    /// <summary>Draws the bars onto a new canvas.</summary>
    public static Raster Render(string title, IReadOnlyList<string> categories, IReadOnlyList<BarSeries> series, int width = 720, int height = 420,
        double max = 1, double? reference = null)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        if (!(max > 0) || !double.IsFinite(max)) throw new ArgumentOutOfRangeException(nameof(max), max, "The axis maximum must be a positive number.");
        foreach (var s in series)
            if (s.Values.Count != categories.Count) throw new ArgumentException($"Series '{s.Name}' has {s.Values.Count} values for {categories.Count} categories.");
        var canvas = new Raster(width, height, Rgb.White);
        int plotW = width - Left - Right, plotH = height - Top - Bottom;
        int Py(double v) => Top + plotH - 1 - (int)Math.Round(Math.Clamp(v / max, 0, 1) * (plotH - 1));
        for (int t = 0; t <= 5; t++)
        {
            double v = max * t / 5.0;
            canvas.Line(Left, Py(v), Left + plotW - 1, Py(v), Grid);
            string label = v.ToString("0.0#", CultureInfo.InvariantCulture);
            canvas.Text(Left - 8 - Raster.TextWidth(label), Py(v) - 3, label, Axis);
        }
        canvas.Line(Left - 1, Top, Left - 1, Top + plotH, Axis);
        canvas.Line(Left - 1, Top + plotH, Left + plotW - 1, Top + plotH, Axis);
        canvas.Text(width / 2 - Raster.TextWidth(title) / 2, 10, title, Axis);

        int groupW = plotW / Math.Max(1, categories.Count);
        int barW = Math.Max(4, (groupW - 24) / Math.Max(1, series.Count));
        for (int g = 0; g < categories.Count; g++)
        {
            int x0 = Left + g * groupW + (groupW - barW * series.Count) / 2;
            for (int s = 0; s < series.Count; s++)
            {
                double v = series[s].Values[g];
                int x = x0 + s * barW, top = Py(v);
                canvas.FillRect(x + 2, top, barW - 4, Top + plotH - top, series[s].Color);
                string label = v.ToString("0.00", CultureInfo.InvariantCulture);
                canvas.Text(x + barW / 2 - Raster.TextWidth(label) / 2, top - 10, label, Axis);
            }
            canvas.Text(Left + g * groupW + groupW / 2 - Raster.TextWidth(categories[g]) / 2, Top + plotH + 8, categories[g], Axis);
        }
        if (reference is double r && r > 0 && r <= max)
        {
            canvas.Line(Left, Py(r), Left + plotW - 1, Py(r), ReferenceColor);
            string label = r.ToString("0.##", CultureInfo.InvariantCulture) + "x";
            canvas.Text(Left + plotW - 1 - Raster.TextWidth(label), Py(r) - 10, label, ReferenceColor);
        }
        int lx = width - Right - series.Sum(s => 18 + Raster.TextWidth(s.Name) + 12);   // legend: one row above the plot, right-aligned
        foreach (var s in series)
        {
            canvas.FillRect(lx, 25, 12, 6, s.Color);
            canvas.Text(lx + 18, 24, s.Name, Axis);
            lx += 18 + Raster.TextWidth(s.Name) + 12;
        }
        return canvas;
    }

    /// <summary>Renders and writes a PNG to <paramref name="path"/> (atomically).</summary>
    public static void WritePng(string path, string title, IReadOnlyList<string> categories, IReadOnlyList<BarSeries> series,
        double max = 1, double? reference = null, int width = 720)
    {
        var r = Render(title, categories, series, width, max: max, reference: reference);
        PngWriter.Write(path, r.Width, r.Height, r.Pixels);
    }
}
