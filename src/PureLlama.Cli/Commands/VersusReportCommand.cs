using System.CommandLine;
using System.Globalization;
using System.Text;
using PureLlama.Cli.Bench;
using PureLlama.Cli.Charts;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama versus-report --results FILE</c>: the table of scripts/bench-vs-llamacpp.sh from its results file (medians
/// over the interleaved rounds, PureLlama / llama.cpp, and each engine's best decode), the host bandwidth and load seen during the runs, and with
/// <c>--png</c> the same ratios as a bar chart (decode and prefill per format, a line at 1×).
/// </summary>
internal static class VersusReportCommand
{
    public static Command Create()
    {
        var results = new Option<string>("--results") { Description = "results file written by scripts/bench-vs-llamacpp.sh", Required = true };
        var png = new Option<string?>("--png") { Description = "also draw the ratios as a bar chart into this PNG file" };
        var title = new Option<string?>("--title") { Description = "chart title (default: the rounds and the date of the file)" };
        var command = new Command("versus-report", "Table (and chart) of a PureLlama vs llama.cpp results file from scripts/bench-vs-llamacpp.sh.")
        {
            results, png, title,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(results)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such results file.", path);
            var runs = VersusResults.Read(path);
            if (runs.Count == 0) throw new FormatException($"{path}: no runs in the file.");
            var rows = VersusResults.Rows(runs);
            Console.Write(Table(rows));
            Console.WriteLine();
            Console.WriteLine(HostLine(runs));
            if (parse.GetValue(png) is { } pngPath)
            {
                string chartTitle = parse.GetValue(title) ?? $"purellama / llama.cpp, {runs.Max(r => r.Round)} interleaved rounds, medians";
                WriteChart(pngPath, chartTitle, rows);
                Console.WriteLine($"chart: {pngPath}");
            }
            return 0;
        });
        return command;
    }

    internal static string Table(IReadOnlyList<VersusRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| PureLlama weights vs llama.cpp | decode tok/s PureLlama / llama.cpp | ratio | best decode of the rounds | ratio | prefill pp128 tok/s PureLlama / llama.cpp | ratio |");
        sb.AppendLine("| --- | --- | ---: | --- | ---: | --- | ---: |");
        foreach (var r in rows)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Title} | {r.OursDecode:F1} / {r.TheirsDecode:F1} | {r.DecodeRatio:F2}× | {r.OursBestDecode:F1} / {r.TheirsBestDecode:F1} | {r.BestDecodeRatio:F2}× | {r.OursPrefill:F1} / {r.TheirsPrefill:F1} | {r.PrefillRatio:F2}× |"));
        return sb.ToString();
    }

    internal static string HostLine(IReadOnlyList<VersusRun> runs)
    {
        static string Span((double Min, double Max)? r) => r is { } x ? string.Create(CultureInfo.InvariantCulture, $"{x.Min:0.#}–{x.Max:0.#}") : "not recorded";
        return $"load after the runs {Span(VersusResults.Range(runs.Select(r => r.Load)))}; host read bandwidth probed after each run " +
               $"(GB/s, 2 threads): 2 MiB pages {Span(VersusResults.Range(runs.Select(r => r.ReadHugeGBps)))}, " +
               $"4 KiB pages {Span(VersusResults.Range(runs.Select(r => r.ReadSmallGBps)))}";
    }

    private static void WriteChart(string path, string title, IReadOnlyList<VersusRow> rows)
    {
        var decode = rows.Select(r => double.IsFinite(r.DecodeRatio) ? r.DecodeRatio : 0).ToList();
        var prefill = rows.Select(r => double.IsFinite(r.PrefillRatio) ? r.PrefillRatio : 0).ToList();
        double max = Math.Max(2, Math.Ceiling(decode.Concat(prefill).Max() * 2) / 2);   // room above the tallest bar, in 0.5 steps
        var series = new List<BarSeries>
        {
            new("decode (tg32)", new Rgb(46, 104, 178), decode),
            new("prefill (pp128)", new Rgb(236, 145, 40), prefill),
        };
        BarChart.WritePng(path, title, rows.Select(r => r.Short).ToList(), series, max: max, reference: 1, width: 120 * rows.Count + 64);
    }
}
