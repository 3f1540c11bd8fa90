using PureLlama.Cli.Charts;
using PureLlama.Training;

namespace PureLlama.Cli.Display;

/// <summary>
/// The loss-curve picture of a run, drawn from the trainer's history: the training loss of every step (thin, light),
/// its trailing moving average (the trend), and the held-out loss at each evaluation (markers).
/// </summary>
internal static class LossCurve
{
    /// <summary>The file name written into a run's output folder.</summary>
    public const string FileName = "loss_curve.png";

    /// <summary>Draws <paramref name="state"/>'s history into <paramref name="path"/> under <paramref name="title"/>.</summary>
    public static void Write(string path, TrainerState state, string title)
    {
        ArgumentNullException.ThrowIfNull(state);
        var train = state.LogHistory.Where(l => !l.Skipped).Select(l => ((double)l.Step, l.Loss)).ToList();
        int window = Math.Clamp(train.Count / 20, 2, 25);
        var series = new List<ChartSeries>
        {
            new("train", new Rgb(174, 199, 232), train),
            new($"train, mean of {window}", new Rgb(31, 119, 180), MovingAverage(train, window)),
        };
        var eval = state.EvalHistory.Select(e => ((double)e.Step, e.Loss)).ToList();
        if (eval.Count > 0) series.Add(new ChartSeries("held-out", new Rgb(255, 127, 14), eval, Markers: true));
        LineChart.WritePng(path, series, title: title);
    }

    /// <summary>Trailing mean over the last <paramref name="window"/> points (fewer at the start).</summary>
    public static List<(double X, double Y)> MovingAverage(IReadOnlyList<(double X, double Y)> points, int window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        var result = new List<(double, double)>(points.Count);
        double sum = 0;
        for (int i = 0; i < points.Count; i++)
        {
            sum += points[i].Y;
            if (i >= window) sum -= points[i - window].Y;
            result.Add((points[i].X, sum / Math.Min(i + 1, window)));
        }
        return result;
    }
}
