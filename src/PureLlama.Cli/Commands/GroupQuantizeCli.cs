using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using PureLlama.Calibration;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;

namespace PureLlama.Cli.Commands;

/// <summary>
/// The gptq | awq | rtn formats of <c>purellama quantize</c>: loads the dense model memory-mapped, runs
/// <see cref="LayerwiseQuantizer"/> on calibration sequences, and writes an AutoGPTQ-layout (GPTQ, RTN) or
/// AutoAWQ-GEMM-layout (AWQ) folder with <see cref="Int4Checkpoint"/>.
/// </summary>
internal sealed class GroupQuantizeCli
{
    public Option<int> Bits { get; } = new("--bits") { Description = "gptq/awq/rtn: bits per weight (4; the packed layouts hold 4)", DefaultValueFactory = _ => 4 };
    public Option<int> GroupSize { get; } = new("--group-size") { Description = "gptq/awq/rtn: input columns per group (128; -1 = per channel, gptq/rtn only)", DefaultValueFactory = _ => 128 };
    public Option<bool> DescAct { get; } = new("--desc-act") { Description = "gptq: act-order (columns by decreasing Hessian diagonal, g_idx)" };
    public Option<bool> TrueSequential { get; } = new("--true-sequential") { Description = "gptq: quantize q/k/v, o, gate/up, down in turn, each from inputs after the earlier ones (4 passes per layer)" };
    public Option<string> GroupFit { get; } = new("--group-fit") { Description = "gptq: fit each group's scale and zero to the weights at the start of its 128-column block (block-start: the reference implementation's way, default) or to the weights with every error so far applied (updated: usually lower error at group sizes 32/64, -24 % to +0.9 % in docs/quantization.md)", DefaultValueFactory = _ => "block-start" };
    public Option<bool> Sym { get; } = new("--sym") { Description = "gptq/rtn: symmetric grids (zero point 8)" };
    public Option<bool> Asym { get; } = new("--asym") { Description = "asymmetric min-max grids (default)" };
    public Option<double> Damp { get; } = new("--damp") { Description = "gptq: dampening, fraction of mean(diag H)", DefaultValueFactory = _ => 0.01 };
    public Option<string?> Calibration { get; } = new("--calibration") { Description = "calibration text or JSONL (\"text\" field); default: a small built-in text" };
    public Option<int> Samples { get; } = new("--samples") { Description = "calibration sequences", DefaultValueFactory = _ => 128 };
    public Option<int> SeqLen { get; } = new("--seq-len") { Description = "tokens per calibration sequence", DefaultValueFactory = _ => 512 };
    public Option<string?> Device { get; } = DeviceOption.Create();

    public static bool Handles(string format) => format.Trim().ToLowerInvariant() is "gptq" or "awq" or "rtn";

    /// <summary>The first of these options given on the command line (not defaulted), if any: they apply to gptq/awq/rtn only.</summary>
    public string? GivenOption(ParseResult parse) =>
        new Option[] { Bits, GroupSize, DescAct, TrueSequential, GroupFit, Sym, Asym, Damp, Calibration, Samples, SeqLen }
            .FirstOrDefault(o => parse.GetResult(o) is { Implicit: false })?.Name;

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Bits, GroupSize, DescAct, TrueSequential, GroupFit, Sym, Asym, Damp, Calibration, Samples, SeqLen, Device }) command.Options.Add(o);
    }

    public int Run(ParseResult parse, string format, string modelDir, string outDir, bool force, long maxShard)
    {
        var method = format.Trim().ToLowerInvariant() switch { "gptq" => GroupMethod.Gptq, "awq" => GroupMethod.Awq, _ => GroupMethod.Rtn };
        if (parse.GetValue(Sym) && parse.GetValue(Asym)) throw new ArgumentException("Give --sym or --asym, not both.");
        bool sym = parse.GetValue(Sym);
        if (method == GroupMethod.Awq && sym) throw new ArgumentException("AWQ checkpoints are written with zero points (zero_point true): drop --sym.");
        if (method != GroupMethod.Gptq && (parse.GetValue(DescAct) || parse.GetValue(TrueSequential))) throw new ArgumentException("--desc-act and --true-sequential are GPTQ options.");
        var groupFit = parse.GetValue(GroupFit)!.Trim().ToLowerInvariant() switch
        {
            "block-start" => GptqGroupFit.BlockStart,
            "updated" => GptqGroupFit.Updated,
            var other => throw new ArgumentException($"--group-fit must be block-start or updated; got '{other}'."),
        };
        if (method != GroupMethod.Gptq && groupFit != GptqGroupFit.BlockStart) throw new ArgumentException("--group-fit is a GPTQ option.");
        int group = parse.GetValue(GroupSize);
        if (group == 0 || group < -1) throw new ArgumentException($"--group-size must be positive or -1 (one group per output channel), not {group}.");
        if (!(parse.GetValue(Damp) >= 0)) throw new ArgumentException($"--damp must be ≥ 0, not {parse.GetValue(Damp)}.");
        if (method != GroupMethod.Rtn && parse.GetValue(Samples) < 1) throw new ArgumentException($"--samples must be at least 1, not {parse.GetValue(Samples)}.");
        if (method != GroupMethod.Rtn && parse.GetValue(SeqLen) < 2) throw new ArgumentException($"--seq-len must be at least 2, not {parse.GetValue(SeqLen)}.");
        if (method == GroupMethod.Awq && group < 0) throw new ArgumentException("AWQ needs a positive --group-size.");
        var options = new LayerwiseOptions(method, new GroupQuantOptions(parse.GetValue(Bits), group, sym), parse.GetValue(Damp), parse.GetValue(DescAct), parse.GetValue(TrueSequential)) { GptqGroupFit = groupFit };
        if (options.Quant.Bits != 4) throw new ArgumentException($"--bits {options.Quant.Bits}: the GPTQ/AWQ layouts written here hold 4-bit weights.");

        var clock = Stopwatch.StartNew();
        var device = DeviceOption.Resolve(parse.GetValue(Device));
        using var llama = LlamaRuntime.Load(modelDir, device, WeightLoading.Mapped);
        IReadOnlyList<int[]> samples = [];
        if (method != GroupMethod.Rtn)
        {
            var tokenizer = llama.Tokenizer ?? throw new ArgumentException($"'{modelDir}' has no tokenizer.json; {format} calibration needs one.");
            string? file = parse.GetValue(Calibration);
            samples = CalibrationData.Sequences(tokenizer, file is null ? null : TextFile.ReadAll(file), parse.GetValue(Samples), parse.GetValue(SeqLen));
            Console.WriteLine($"calibration: {samples.Count} sequence(s) of up to {samples.Max(s => s.Length)} tokens from {file ?? "the built-in text"}");
        }
        var c = CultureInfo.InvariantCulture;
        LayerwiseQuantizer.Quantize(llama.Model, samples, options, p => Console.WriteLine(p.ToString()));
        double quantSeconds = clock.Elapsed.TotalSeconds;
        var config = new Int4CheckpointConfig
        {
            Method = method == GroupMethod.Awq ? "awq" : "gptq", GroupSize = group, Sym = sym, DescAct = options.ActOrder, DampPercent = options.DampPercent, TrueSequential = options.TrueSequential,
        };
        var report = Int4Checkpoint.Write(llama.Model, modelDir, outDir, config, force, maxShard);
        long source = Directory.EnumerateFiles(modelDir, "*.safetensors").Sum(f => IO.FileSizes.Of(f));
        Console.WriteLine(string.Create(c, $"wrote {report.OutputDirectory}: {config.Describe()} ({method}), {report.WeightFiles.Count} weight file(s)"));
        Console.WriteLine(string.Create(c, $"weights: {source / 1e6:N1} MB → {report.OutputWeightBytes / 1e6:N1} MB; projections {report.QuantizedWeights:N0} weights at {report.BitsPerQuantizedWeight:F3} bits/weight"));
        Console.WriteLine(string.Create(c, $"quantization time: {quantSeconds:F1} s (load + calibration + quantization), total {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }
}
