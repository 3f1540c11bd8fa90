using System.Globalization;
using System.Text;
using System.Text.Json;

namespace PureLlama.Cli.Bench;

/// <summary>Our figure for one work item, with the PyTorch figure when there is one.</summary>
internal sealed record BenchRow(WorkItem Item, Timing Ours, double? RooflinePercent, PyTorchResult? Torch)
{
    public double Rate => Item.Rate(Ours.MedianMs);

    /// <summary>PureLlama rate / PyTorch rate (> 1: we are faster).</summary>
    public double? Ratio => Torch is { Rate: > 0 } t ? Rate / t.Rate : null;
}

/// <summary>Prints the bench table and writes the JSON file.</summary>
internal static class BenchReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Roofline percentage of a rate, against the ceiling matching the item's kind.</summary>
    public static double? PercentOfRoof(WorkItem item, double rate, RooflineFigures? roof) => roof == null ? null : item.Kind switch
    {
        RateKind.Flops => 100 * rate / roof.FmaGflops,
        RateKind.ReadBytes => 100 * rate / roof.ReadGBps,
        _ => 100 * rate / roof.CopyGBps,
    };

    public static string Table(IReadOnlyList<BenchRow> rows, bool withTorch)
    {
        var header = new List<string> { "work", "shape", "ms", "rate", "% roof" };
        if (withTorch) header.AddRange(["PyTorch ms", "PyTorch rate", "ours/PyTorch"]);
        var cells = new List<string[]> { header.ToArray() };
        foreach (var r in rows)
        {
            var c = new List<string>
            {
                r.Item.Work, r.Item.Shape, F(r.Ours.MedianMs, 3), $"{F(r.Rate, 1)} {r.Item.Unit}",
                r.RooflinePercent is double p ? $"{F(p, 0)} %" : "–",
            };
            if (withTorch)
            {
                c.Add(r.Torch is { } t ? F(t.MedianMs, 3) : "–");
                c.Add(r.Torch is { } t2 ? $"{F(t2.Rate, 1)} {t2.Unit}" : "–");
                c.Add(r.Ratio is double x ? $"{F(x, 2)}×" : "–");
            }
            cells.Add(c.ToArray());
        }
        return Markdown(cells);
    }

    public static string RooflineLine(RooflineFigures roof) =>
        $"roofline ({roof.Threads} threads): FMA F32 {F(roof.FmaGflops, 1)} GFLOP/s (Vector{roof.VectorBits}), " +
        $"read {F(roof.ReadGBps, 1)} GB/s (4 KiB pages: {F(roof.ReadSmallPagesGBps, 1)}), copy {F(roof.CopyGBps, 1)} GB/s (read+written, {roof.BufferBytes >> 20} MiB buffer)";

    public static void WriteJson(string path, string command, int threads, string loadBefore, RooflineFigures? roof,
        IReadOnlyList<BenchRow> rows, PyTorchRun? torch)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("date", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", Inv));
        w.WriteString("command", command);
        w.WriteString("machine", MachineLine());
        w.WriteNumber("threads", threads);
        w.WriteString("load_average_before", loadBefore);
        w.WriteString("load_average_after", LoadAverage());
        if (roof != null)
        {
            w.WriteStartObject("roofline");
            w.WriteNumber("threads", roof.Threads);
            w.WriteNumber("vector_bits", roof.VectorBits);
            w.WriteNumber("fma_gflops", roof.FmaGflops);
            w.WriteNumber("read_gbps", roof.ReadGBps);
            w.WriteNumber("read_small_pages_gbps", roof.ReadSmallPagesGBps);
            w.WriteNumber("copy_gbps", roof.CopyGBps);
            w.WriteNumber("buffer_bytes", roof.BufferBytes);
            w.WriteEndObject();
        }
        w.WriteStartArray("results");
        foreach (var r in rows)
        {
            w.WriteStartObject();
            w.WriteString("id", r.Item.Id);
            w.WriteString("work", r.Item.Work);
            w.WriteString("shape", r.Item.Shape);
            w.WriteString("ours_op", r.Item.Ours);
            w.WriteString("unit", r.Item.Unit);
            w.WriteNumber("amount_per_call", r.Item.AmountPerCall);
            w.WriteNumber("median_ms", r.Ours.MedianMs);
            w.WriteNumber("min_ms", r.Ours.MinMs);
            w.WriteNumber("samples", r.Ours.Samples);
            w.WriteNumber("calls_per_sample", r.Ours.CallsPerSample);
            w.WriteNumber("rate", r.Rate);
            if (r.RooflinePercent is double p) w.WriteNumber("roofline_percent", p);
            if (r.Torch is { } t)
            {
                w.WriteStartObject("pytorch");
                w.WriteString("op", t.Op);
                w.WriteNumber("median_ms", t.MedianMs);
                w.WriteNumber("min_ms", t.MinMs);
                w.WriteNumber("rate", t.Rate);
                w.WriteEndObject();
                if (r.Ratio is double x) w.WriteNumber("ratio_ours_over_pytorch", x);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (torch != null)
        {
            w.WritePropertyName("pytorch_run");
            w.WriteStartObject();
            w.WriteString("command", torch.Command);
            w.WriteString("blas", torch.BlasSummary);
            w.WritePropertyName("report");
            torch.Raw.WriteTo(w);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>One line about the machine and the runtime.</summary>
    public static string MachineLine()
    {
        string cpu = "unknown CPU", bf16 = "unknown";
        try
        {
            var lines = File.ReadLines("/proc/cpuinfo").Take(64).ToList();
            var model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (model != null) cpu = model[(model.IndexOf(':') + 1)..].Trim();
            var flags = lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            if (flags != null) bf16 = flags.Split(' ').Contains("avx512_bf16") ? "yes" : "no";
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        bool v512 = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        return $"{cpu}, {Environment.ProcessorCount} logical CPUs, Vector512 {(v512 ? "accelerated" : "not accelerated")}, " +
               $"AVX512-BF16 (cpuinfo) {bf16}, .NET {Environment.Version}";
    }

    /// <summary>The 1/5/15-minute load averages (Linux), or "unknown".</summary>
    public static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    private static string F(double v, int decimals) => v.ToString("F" + decimals, Inv);

    private static string Markdown(List<string[]> cells)
    {
        int cols = cells[0].Length;
        var widths = new int[cols];
        foreach (var row in cells)
            for (int i = 0; i < cols; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        var sb = new StringBuilder();
        for (int r = 0; r < cells.Count; r++)
        {
            sb.Append('|');
            for (int i = 0; i < cols; i++)
            {
                bool numeric = i >= 2;
                string text = numeric ? cells[r][i].PadLeft(widths[i]) : cells[r][i].PadRight(widths[i]);
                sb.Append(' ').Append(text).Append(" |");
            }
            sb.AppendLine();
            if (r == 0)
            {
                sb.Append('|');
                for (int i = 0; i < cols; i++) sb.Append(i >= 2 ? " " + new string('-', widths[i] - 1) + ": |" : " " + new string('-', widths[i]) + " |");
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }
}
