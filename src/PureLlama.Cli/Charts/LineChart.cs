using System.Globalization;

namespace PureLlama.Cli.Charts;

/// <summary>One named curve of a <see cref="LineChart"/>.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Color">Line colour.</param>
/// <param name="Points">(x, y) in data units, in x order; non-finite y values are skipped.</param>
/// <param name="Markers">Draw a small square at each point (sparse series such as eval loss).</param>
internal sealed record ChartSeries(string Name, Rgb Color, IReadOnlyList<(double X, double Y)> Points, bool Markers = false);

/// <summary>
/// A line plot rasterised onto a <see cref="Raster"/>: axes with "nice" ticks (1, 2, 5 × 10^k) and
/// labels, one polyline per series, a legend, axis titles. Used for the trainer's loss curve.
/// </summary>
internal static class LineChart
{
    private const int Left = 64, Right = 16, Top = 28, Bottom = 40;
    private static readonly Rgb Axis = new(40, 40, 40), Grid = new(225, 225, 225);

    /// <summary>Draws the series onto a new <paramref name="width"/>×<paramref name="height"/> canvas.</summary>
    public static Raster Render(IReadOnlyList<ChartSeries> series, int width = 720, int height = 420, string xTitle = "step", string yTitle = "loss",
        string? title = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        var canvas = new Raster(width, height, Rgb.White);
        var pts = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        double x0 = pts.Count > 0 ? pts.Min(p => p.X) : 0, x1 = pts.Count > 0 ? pts.Max(p => p.X) : 1;
        double y0 = pts.Count > 0 ? pts.Min(p => p.Y) : 0, y1 = pts.Count > 0 ? pts.Max(p => p.Y) : 1;
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) { y0 -= 0.5; y1 += 0.5; }
        var xTicks = NiceTicks(x0, x1, 8);
        var yTicks = NiceTicks(y0, y1, 6);
        x0 = Math.Min(x0, xTicks[0]); x1 = Math.Max(x1, xTicks[^1]);
        y0 = Math.Min(y0, yTicks[0]); y1 = Math.Max(y1, yTicks[^1]);

        int plotW = width - Left - Right, plotH = height - Top - Bottom;
        int Px(double x) => Left + (int)Math.Round((x - x0) / (x1 - x0) * (plotW - 1));
        int Py(double y) => Top + plotH - 1 - (int)Math.Round((y - y0) / (y1 - y0) * (plotH - 1));

        foreach (double t in xTicks)
        {
            int px = Px(t);
            canvas.Line(px, Top, px, Top + plotH - 1, Grid);
            canvas.Line(px, Top + plotH, px, Top + plotH + 4, Axis);
            string label = Format(t);
            canvas.Text(px - Raster.TextWidth(label) / 2, Top + plotH + 7, label, Axis);
        }
        foreach (double t in yTicks)
        {
            int py = Py(t);
            canvas.Line(Left, py, Left + plotW - 1, py, Grid);
            canvas.Line(Left - 5, py, Left - 1, py, Axis);
            string label = Format(t);
            canvas.Text(Left - 8 - Raster.TextWidth(label), py - 3, label, Axis);
        }
        canvas.Line(Left - 1, Top, Left - 1, Top + plotH, Axis);                 // y axis
        canvas.Line(Left - 1, Top + plotH, Left + plotW - 1, Top + plotH, Axis); // x axis
        canvas.Text(Left + plotW / 2 - Raster.TextWidth(xTitle) / 2, height - 14, xTitle, Axis);
        canvas.Text(6, 8, yTitle, Axis);
        if (title is not null) canvas.Text(Left + plotW / 2 - Raster.TextWidth(title) / 2, 8, title, Axis);

        foreach (var s in series)
        {
            (int X, int Y)? prev = null;
            foreach (var (x, y) in s.Points)
            {
                if (!double.IsFinite(x) || !double.IsFinite(y)) { prev = null; continue; }
                var p = (Px(x), Py(y));
                if (prev is { } q) canvas.Line(q.X, q.Y, p.Item1, p.Item2, s.Color, 2);
                else canvas.Set(p.Item1, p.Item2, s.Color);
                if (s.Markers) canvas.FillRect(p.Item1 - 2, p.Item2 - 2, 5, 5, s.Color);
                prev = p;
            }
        }

        int ly = Top + 6;                                                         // legend, top right
        foreach (var s in series)
        {
            int lx = Left + plotW - 12 - Raster.TextWidth(s.Name) - 22;
            canvas.FillRect(lx, ly + 2, 16, 3, s.Color);
            canvas.Text(lx + 22, ly, s.Name, Axis);
            ly += 12;
        }
        return canvas;
    }

    /// <summary>Renders and writes a PNG to <paramref name="path"/> (atomically).</summary>
    public static void WritePng(string path, IReadOnlyList<ChartSeries> series, int width = 720, int height = 420, string? title = null)
    {
        var r = Render(series, width, height, title: title);
        PngWriter.Write(path, r.Width, r.Height, r.Pixels);
    }

    /// <summary>Tick values covering [lo, hi] spaced 1, 2 or 5 × 10^k, about <paramref name="target"/> of them.</summary>
    public static double[] NiceTicks(double lo, double hi, int target)
    {
        double raw = (hi - lo) / Math.Max(1, target);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = (raw / mag) switch { <= 1 => mag, <= 2 => 2 * mag, <= 5 => 5 * mag, _ => 10 * mag };
        double start = Math.Floor(lo / step) * step, end = Math.Ceiling(hi / step) * step;
        var ticks = new List<double>();
        for (double t = start; t <= end + step * 1e-9 && ticks.Count < 50; t += step) ticks.Add(Math.Round(t / step) * step);
        return [.. ticks];
    }

    private static string Format(double v)
    {
        if (Math.Abs(v) < 1e-12) return "0";
        return Math.Abs(v) is >= 1e5 or < 1e-3 ? v.ToString("0.#e0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);
    }
}
