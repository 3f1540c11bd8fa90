using System.Text.Json;
using System.Text.Json.Nodes;

namespace PureLlama.IO;

/// <summary>
/// The <c>quantization_config</c> of a GPTQ (AutoGPTQ / GPTQModel) or AWQ (AutoAWQ GEMM) checkpoint.
/// GPTQ: quant_method "gptq", bits, group_size (−1: per channel), desc_act, sym, damp_percent,
/// checkpoint_format ("gptq": qzeros store z − 1, AutoGPTQ's historical form; "gptq_v2": true zeros).
/// AWQ: quant_method "awq", version "gemm", zero_point, group_size (or q_group_size), bits (or w_bit).
/// </summary>
public sealed record Int4CheckpointConfig
{
    /// <summary>"gptq" or "awq".</summary>
    public required string Method { get; init; }
    /// <summary>Bits per weight (4).</summary>
    public int Bits { get; init; } = 4;
    /// <summary>Input columns per group (128), −1 for one group per output channel (GPTQ only).</summary>
    public int GroupSize { get; init; } = 128;
    /// <summary>GPTQ act-order (g_idx is a permuted group assignment).</summary>
    public bool DescAct { get; init; }
    /// <summary>Symmetric grids (GPTQ sym; AWQ zero_point = !Sym).</summary>
    public bool Sym { get; init; }
    /// <summary>GPTQ dampening used (recorded only).</summary>
    public double DampPercent { get; init; } = 0.01;
    /// <summary>GPTQ true_sequential: the layer's groups were quantized in order, each from inputs after the earlier ones (recorded only).</summary>
    public bool TrueSequential { get; init; }
    /// <summary>GPTQ: "gptq" (qzeros hold z − 1) or "gptq_v2" (true zeros).</summary>
    public string CheckpointFormat { get; init; } = "gptq";
    /// <summary>Linear modules left dense (lm_head always is).</summary>
    public IReadOnlyList<string> ModulesNotConverted { get; init; } = ["lm_head"];

    /// <summary>True for AWQ.</summary>
    public bool IsAwq => Method == "awq";

    /// <summary>"GPTQ 4-bit, group 128, asymmetric" etc.</summary>
    public string Describe() => $"{Method.ToUpperInvariant()} {Bits}-bit, group {(GroupSize < 0 ? "per channel" : GroupSize.ToString(System.Globalization.CultureInfo.InvariantCulture))}, " +
                                $"{(Sym ? "symmetric" : "asymmetric")}{(DescAct ? ", act-order" : "")}";

    /// <summary>The config.json field as transformers' GPTQConfig / AwqConfig write it.</summary>
    public JsonObject ToJson() => IsAwq
        ? new JsonObject
        {
            ["quant_method"] = "awq", ["bits"] = Bits, ["group_size"] = GroupSize, ["zero_point"] = !Sym, ["version"] = "gemm",
            ["modules_to_not_convert"] = null,
        }
        : new JsonObject
        {
            ["quant_method"] = "gptq", ["bits"] = Bits, ["group_size"] = GroupSize, ["desc_act"] = DescAct, ["sym"] = Sym,
            ["damp_percent"] = DampPercent, ["true_sequential"] = TrueSequential, ["static_groups"] = false, ["checkpoint_format"] = CheckpointFormat,
            ["model_file_base_name"] = "model",
        };

    /// <summary>The side file AutoGPTQ (quantize_config.json) or AutoAWQ (quant_config.json) writes: (file name, content).</summary>
    public (string FileName, JsonObject Content) SideFile() => IsAwq
        ? ("quant_config.json", new JsonObject { ["zero_point"] = !Sym, ["q_group_size"] = GroupSize, ["w_bit"] = Bits, ["version"] = "GEMM" })
        : ("quantize_config.json", ToJson());

    /// <summary>The GPTQ/AWQ quantization_config of a config.json, or null when it has none or another method (bitsandbytes).</summary>
    /// <exception cref="InvalidDataException">The field asks for something PureLlama does not read (names it and the file).</exception>
    public static Int4CheckpointConfig? FromConfigFile(string configPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(configPath);
        using var doc = JsonConfigReader.ParseDocument(StrictJson.ReadText(configPath), configPath);
        var root = new JsonConfigReader(doc.RootElement, configPath);
        if (!root.TryGet("quantization_config", out var q) || q.ValueKind != JsonValueKind.Object) return null;
        var r = new JsonConfigReader(q, configPath);
        string? method = r.OptionalString("quant_method")?.ToLowerInvariant();
        if (method is not ("gptq" or "awq")) return null;
        InvalidDataException Bad(string field, string problem) => root.Error($"quantization_config.{field}", problem);
        int bits = r.OptionalInt("bits", 1) ?? r.OptionalInt("w_bit", 1) ?? 4;
        if (bits != 4) throw Bad("bits", $"is {bits}; PureLlama reads 4-bit GPTQ/AWQ weights.");
        int group = r.OptionalInt("group_size", -1) ?? r.OptionalInt("q_group_size", -1) ?? 128;
        if (group == 0 || (method == "awq" && group < 0)) throw Bad("group_size", $"is {group}; expected a positive group size{(method == "gptq" ? " or -1" : "")}.");
        if (method == "awq")
        {
            string version = (r.OptionalString("version") ?? "gemm").ToLowerInvariant();
            if (version != "gemm") throw Bad("version", $"is '{version}'; PureLlama reads AutoAWQ's GEMM layout.");
            return new Int4CheckpointConfig { Method = "awq", GroupSize = group, Sym = !(r.OptionalBool("zero_point") ?? true) };
        }
        string format = r.OptionalString("checkpoint_format") ?? "gptq";
        if (format is not ("gptq" or "gptq_v2")) throw Bad("checkpoint_format", $"is '{format}'; PureLlama reads gptq and gptq_v2 (not marlin/bitblas repacks).");
        return new Int4CheckpointConfig
        {
            Method = "gptq", GroupSize = group, DescAct = r.OptionalBool("desc_act") ?? false, Sym = r.OptionalBool("sym") ?? true,
            DampPercent = r.OptionalDouble("damp_percent", 0, 1) ?? 0.01, CheckpointFormat = format, TrueSequential = r.OptionalBool("true_sequential") ?? false,
        };
    }
}
