using System.Globalization;

namespace PureLlama.Cli.Bench;

/// <summary>One engine run of scripts/bench-vs-llamacpp.sh: a line of its results file.</summary>
/// <param name="Round">Interleaved round, from 1.</param>
/// <param name="Format">Row of the comparison (bf16, nf4, int4, int8, gguf-q4_0, gguf-q8_0, gguf-q4_k_m).</param>
/// <param name="Engine">"purellama" or "llama.cpp".</param>
/// <param name="PrefillTokS">pp128 tokens per second.</param>
/// <param name="DecodeTokS">tg32 tokens per second.</param>
/// <param name="Load">1-minute load average after the run.</param>
/// <param name="ReadHugeGBps">Host read bandwidth probed after the run on 2 MiB pages (NaN in older files).</param>
/// <param name="ReadSmallGBps">The same on 4 KiB pages (NaN in older files).</param>
internal sealed record VersusRun(int Round, string Format, string Engine, double PrefillTokS, double DecodeTokS, double Load,
    double ReadHugeGBps, double ReadSmallGBps);

/// <summary>Medians of one format over the rounds, both engines, and PureLlama's ratios.</summary>
/// <remarks>Best: the fastest decode of each engine over the rounds. Other tenants only ever slow a run, so the best is each
/// engine's ceiling on this machine, the figure least moved by when a run happened to fall.</remarks>
internal sealed record VersusRow(string Format, string Title, string Short, double OursDecode, double TheirsDecode, double OursPrefill, double TheirsPrefill,
    double OursBestDecode, double TheirsBestDecode)
{
    public double DecodeRatio => TheirsDecode > 0 ? OursDecode / TheirsDecode : double.NaN;
    public double BestDecodeRatio => TheirsBestDecode > 0 ? OursBestDecode / TheirsBestDecode : double.NaN;
    public double PrefillRatio => TheirsPrefill > 0 ? OursPrefill / TheirsPrefill : double.NaN;
}

/// <summary>
/// Reads the results file of scripts/bench-vs-llamacpp.sh ("round format engine prefill decode load [read_2MiB read_4KiB]"
/// per line) and reduces it to medians per format and engine. A line that does not parse is one error naming the file
/// and the line; a run with no number (an engine that failed) is kept out of the medians.
/// </summary>
internal static class VersusResults
{
    private static readonly (string Format, string Title, string Short)[] s_formats =
    [
        ("bf16", "BF16 vs BF16", "bf16"),
        ("nf4", "NF4 (lm_head NF4) vs Q4_0", "nf4/q4_0"),
        ("int4", "INT4 RTN g128 (lm_head Q6_K) vs Q4_0", "int4/q4_0"),
        ("int8", "INT8 (lm_head INT8) vs Q8_0", "int8/q8_0"),
        ("gguf-q4_0", "the Q4_0 GGUF file, both engines", "q4_0 file"),
        ("gguf-q8_0", "the Q8_0 GGUF file, both engines", "q8_0 file"),
        ("gguf-q4_k_m", "the Q4_K_M GGUF file, both engines", "q4_k_m file"),
    ];

    public static List<VersusRun> Read(string path)
    {
        var runs = new List<VersusRun>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 0) continue;
            if (f.Length < 3 || !int.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int round) || round < 1)
                throw new FormatException($"{path}, line {lineNo}: expected 'round format engine prefill decode load …', got '{line}'.");
            if (f[2] is not ("purellama" or "llama.cpp"))
                throw new FormatException($"{path}, line {lineNo}: engine '{f[2]}' is neither purellama nor llama.cpp.");
            // A failed engine run leaves its numbers empty: the line is shorter and the run counts as missing.
            double At(int i) => i < f.Length && double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v : double.NaN;
            runs.Add(new VersusRun(round, f[1], f[2], At(3), At(4), At(5), At(6), At(7)));
        }
        return runs;
    }

    /// <summary>One row per format present, in the comparison's order (unknown formats last, by name).</summary>
    public static List<VersusRow> Rows(IReadOnlyList<VersusRun> runs)
    {
        var rows = new List<VersusRow>();
        var known = s_formats.Select(k => k.Format).ToHashSet();
        var order = s_formats.Where(k => runs.Any(r => r.Format == k.Format))
            .Concat(runs.Select(r => r.Format).Where(f => !known.Contains(f)).Distinct().Order().Select(f => (f, f, f)));
        foreach (var (format, title, shortName) in order)
        {
            double Median(string engine, Func<VersusRun, double> pick) =>
                MedianOf(runs.Where(r => r.Format == format && r.Engine == engine).Select(pick));
            double Best(string engine) => Range(runs.Where(r => r.Format == format && r.Engine == engine).Select(r => r.DecodeTokS))?.Max ?? double.NaN;
            rows.Add(new VersusRow(format, title, shortName,
                Median("purellama", r => r.DecodeTokS), Median("llama.cpp", r => r.DecodeTokS),
                Median("purellama", r => r.PrefillTokS), Median("llama.cpp", r => r.PrefillTokS),
                Best("purellama"), Best("llama.cpp")));
        }
        return rows;
    }

    /// <summary>Median of the finite values (mean of the middle two for an even count); NaN when there are none.</summary>
    public static double MedianOf(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).Order().ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>(min, max) of the finite values, or null.</summary>
    public static (double Min, double Max)? Range(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        return v.Length == 0 ? null : (v.Min(), v.Max());
    }
}
