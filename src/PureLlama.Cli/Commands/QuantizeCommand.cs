using System.CommandLine;
using System.Globalization;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama quantize --model DIR --format nf4|int8 --out DIR</c>: writes an NF4 or INT8 copy of a dense
/// model folder that PureLlama and transformers + bitsandbytes load (<see cref="CheckpointQuantizer"/>).
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "dense Hugging Face model folder (F32/BF16/F16 safetensors)", Required = true };
        var format = new Option<string>("--format") { Description = "nf4 (4-bit NormalFloat, QLoRA) | int8 (row-wise, LLM.int8 storage) | gptq | awq | rtn (4-bit groups, AutoGPTQ / AutoAWQ layouts)", Required = true };
        var outDir = new Option<string>("--output", "--out") { Description = "output model folder (created; must be empty unless --force)", Required = true };
        var noDouble = new Option<bool>("--no-double-quant") { Description = "NF4: keep the block absmaxes in F32 (4.5 bits/weight) instead of 8-bit codes (≈4.13)" };
        var blockSize = new Option<int>("--block-size") { Description = "NF4: weights per absmax block", DefaultValueFactory = _ => 64 };
        var force = new Option<bool>("--force") { Description = "write into a non-empty --out, replacing its model files" };
        var shard = new Option<string>("--max-shard-size") { Description = "largest weight file before sharding, e.g. 5GB (default, as transformers) or 500MB", DefaultValueFactory = _ => "5GB" };
        var command = new Command("quantize", "Write an NF4 or INT8 (bitsandbytes-compatible), GPTQ, AWQ or RTN (4-bit group) copy of a model folder.")
        {
            model, format, outDir, noDouble, blockSize, force, shard,
        };
        var group = new GroupQuantizeCli();
        group.AddTo(command);
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            // An option of another format is refused rather than ignored.
            void RefuseNf4Options(string name)
            {
                if (new Option[] { noDouble, blockSize }.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } nf4Option)
                    throw new ArgumentException($"{nf4Option.Name} applies to --format nf4, not {name}.");
            }
            if (GroupQuantizeCli.Handles(parse.GetValue(format)!))
            {
                RefuseNf4Options(parse.GetValue(format)!);
                return group.Run(parse, parse.GetValue(format)!, parse.GetValue(model)!, parse.GetValue(outDir)!, parse.GetValue(force), ParseSize(parse.GetValue(shard)!));
            }
            string name = parse.GetValue(format)!;
            if (name.Trim().ToLowerInvariant() is not ("nf4" or "int8"))
                throw new ArgumentException($"--format must be one of nf4, int8, gptq, awq, rtn; got '{name}'.");
            var f = QuantizationConfig.ParseFormat(name);
            if (group.GivenOption(parse) is { } groupOnly) throw new ArgumentException($"{groupOnly} applies to --format gptq, awq or rtn, not {name}.");
            if (f != Tensors.QuantFormat.Nf4) RefuseNf4Options(name);
            var config = f == Tensors.QuantFormat.Nf4
                ? QuantizationConfig.Nf4(!parse.GetValue(noDouble), parse.GetValue(blockSize))
                : QuantizationConfig.Int8();
            var report = CheckpointQuantizer.Quantize(parse.GetValue(model)!, parse.GetValue(outDir)!, config, parse.GetValue(force),
                ParseSize(parse.GetValue(shard)!), Console.IsErrorRedirected ? null : line => Console.Error.Write($"\r{line,-100}"));
            if (!Console.IsErrorRedirected) Console.Error.WriteLine();
            Print(report);
            return 0;
        }));
        return command;
    }

    private static void Print(QuantizeReport r)
    {
        Console.WriteLine($"wrote {r.OutputDirectory}: {r.Config.Describe()}, {r.WeightFiles.Count} weight file(s) in {r.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"weights: {Mb(r.SourceWeightBytes)} → {Mb(r.OutputWeightBytes)} ({(double)r.SourceWeightBytes / r.OutputWeightBytes:F2}× smaller)");
        Console.WriteLine($"quantized projections: {r.QuantizedWeights:N0} weights at {r.BitsPerQuantizedWeight:F3} bits/weight; " +
                          $"whole model: {r.TotalParameters:N0} parameters at {r.BitsPerParameter:F2} bits/parameter (embeddings, norms and skipped modules stay as stored)");
    }

    private static string Mb(long bytes) => $"{bytes / 1e6:N1} MB";

    /// <summary>"5GB", "500MB", "2GiB", "1000000" (bytes) → bytes; errors name <paramref name="option"/>.</summary>
    internal static long ParseSize(string text, string option = "--max-shard-size")
    {
        string t = text.Trim().ToUpperInvariant();
        (string Suffix, double Scale)[] units = [("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1)];
        foreach (var (suffix, scale) in units)
            if (t.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0)
                return (long)(v * scale);
        if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long bytes) && bytes > 0) return bytes;
        throw new ArgumentException($"{option} must be a positive size such as 5GB, 500MB or 2GiB, not '{text}'.");
    }
}
