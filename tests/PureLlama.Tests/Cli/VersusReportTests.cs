using PureLlama.Cli.Bench;
using PureLlama.Cli.Charts;
using PureLlama.Cli.Commands;

namespace PureLlama.Tests.Cli;

/// <summary>
/// The results file of scripts/bench-vs-llamacpp.sh reduced to medians and ratios (versus-report), its errors, and the
/// bar chart's axis above 1 with a reference line.
/// </summary>
public sealed class VersusReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("versus-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string text)
    {
        string path = Path.Combine(_dir, $"r{Guid.NewGuid():N}.tsv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Medians_per_format_and_engine_give_the_ratios_and_skip_failed_runs()
    {
        string path = Write(string.Join('\n',
            "1 nf4 purellama 150 40 1.5 55.0 30.1",
            "1 nf4 llama.cpp 140 40 1.6 54.0 29.0",
            "2 nf4 purellama 160 60 1.7 33.0 28.0",
            "2 nf4 llama.cpp 120 30 1.8 32.0 27.5",
            "3 nf4 purellama 170 50 2.0",            // older file: no bandwidth columns
            "3 nf4 llama.cpp 130 35 2.1",
            "1 bf16 purellama 80 15 1.1",
            "1 bf16 llama.cpp",                      // llama.cpp failed: no numbers
            ""));
        var runs = VersusResults.Read(path);
        runs.Should().HaveCount(8);
        var rows = VersusResults.Rows(runs);
        rows.Select(r => r.Format).Should().Equal("bf16", "nf4");   // the comparison's order, not the file's
        var nf4 = rows[1];
        nf4.OursDecode.Should().Be(50);
        nf4.TheirsDecode.Should().Be(35);
        nf4.DecodeRatio.Should().BeApproximately(50.0 / 35, 1e-12);
        nf4.PrefillRatio.Should().BeApproximately(160.0 / 130, 1e-12);
        double.IsNaN(rows[0].TheirsDecode).Should().BeTrue();
        double.IsNaN(rows[0].DecodeRatio).Should().BeTrue();
        VersusReportCommand.HostLine(runs).Should().Contain("2 MiB pages 32–55").And.Contain("4 KiB pages 27.5–30.1").And.Contain("load after the runs 1.1–2.1");
        nf4.OursBestDecode.Should().Be(60);
        nf4.TheirsBestDecode.Should().Be(40);
        VersusReportCommand.Table(rows).Should().Contain("| NF4 (lm_head NF4) vs Q4_0 | 50.0 / 35.0 | 1.43× | 60.0 / 40.0 | 1.50× | 160.0 / 130.0 | 1.23× |");
    }

    [Fact]
    public void Median_of_an_even_count_is_the_mean_of_the_middle_two()
    {
        VersusResults.MedianOf([4, 1, 3, 2]).Should().Be(2.5);
        VersusResults.MedianOf([double.NaN, 7]).Should().Be(7);
        double.IsNaN(VersusResults.MedianOf([])).Should().BeTrue();
    }

    [Theory]
    [InlineData("x y z", "line 1")]
    [InlineData("1 nf4 purellama 1 2 3\n0 nf4 llama.cpp 1 2 3", "line 2")]
    [InlineData("1 nf4 vllm 1 2 3", "engine 'vllm'")]
    public void A_line_that_does_not_parse_is_one_error_naming_the_file_and_the_line(string text, string expected)
    {
        string path = Write(text);
        var act = () => VersusResults.Read(path);
        act.Should().Throw<FormatException>().Where(e => e.Message.Contains(path) && e.Message.Contains(expected));
    }

    [Fact]
    public void Bars_above_one_scale_to_the_axis_maximum_and_the_reference_line_is_drawn()
    {
        var series = new List<BarSeries> { new("decode", new Rgb(0, 0, 255), [2.0, 0.5]) };
        var canvas = BarChart.Render("t", ["a", "b"], series, 400, 300, max: 2, reference: 1);
        // Plot area: top 40, bottom 300 - 36; a bar at the maximum reaches the top row, the 0.5 bar a quarter of the height.
        int plotBottom = 300 - 36 - 1, plotTop = 40;
        int barA = 48 + (400 - 48 - 16) / 2 / 2;   // middle of the first group
        canvas.Get(barA, plotTop + 1).Should().Be(new Rgb(0, 0, 255));
        int barB = 48 + (400 - 48 - 16) / 2 + (400 - 48 - 16) / 2 / 2;
        int quarter = plotBottom - (plotBottom - plotTop) / 4;
        canvas.Get(barB, quarter + 3).Should().Be(new Rgb(0, 0, 255));
        canvas.Get(barB, quarter - 3).Should().NotBe(new Rgb(0, 0, 255));
        int referenceRow = plotBottom - (int)Math.Round(0.5 * (plotBottom - plotTop));
        canvas.Get(48 + 2, referenceRow).Should().Be(new Rgb(200, 30, 30));
        var act = () => BarChart.Render("t", ["a"], [new BarSeries("s", Rgb.Black, [1.0])], max: 0);
        act.Should().Throw<ArgumentOutOfRangeException>();
    }
}
