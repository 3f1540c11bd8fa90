using System.Text.Json;
using System.Text.Json.Nodes;
using PureLlama.IO;
using PureLlama.Tensors;

namespace PureLlama.Quantization;

/// <summary>
/// How a model's linear weights are (or are to be) quantized: the <c>quantization_config</c> of a
/// Hugging Face <c>config.json</c> in the shape of transformers' <c>BitsAndBytesConfig</c>
/// (quant_method "bitsandbytes", load_in_4bit with bnb_4bit_quant_type "nf4", or load_in_8bit).
/// Modules named in <see cref="SkipModules"/> (default lm_head, as bitsandbytes leaves the output
/// layer alone) stay dense; embeddings and norms are never quantized.
/// </summary>
public sealed record QuantizationConfig
{
    /// <summary>The config.json field holding this record.</summary>
    public const string FieldName = "quantization_config";

    /// <summary>NF4 (4-bit) or INT8.</summary>
    public required QuantFormat Format { get; init; }

    /// <summary>NF4: store the block absmaxes as 8-bit codes (QLoRA's double quantization). Default true.</summary>
    public bool DoubleQuant { get; init; } = true;

    /// <summary>NF4: weights per absmax block (64, as bitsandbytes). Not part of Hugging Face's config: each weight's quant_state records it.</summary>
    public int BlockSize { get; init; } = 64;

    /// <summary>bnb_4bit_compute_dtype as written ("bfloat16"). PureLlama computes in F32 whatever it says.</summary>
    public string ComputeDType { get; init; } = "bfloat16";

    /// <summary>Linear modules left dense (llm_int8_skip_modules); a module is skipped when its dotted name equals an entry or contains it as whole dotted components.</summary>
    public IReadOnlyList<string> SkipModules { get; init; } = ["lm_head"];

    /// <summary>
    /// The format lm_head gets when it is quantized (not in <see cref="SkipModules"/>); null: <see cref="Format"/>.
    /// Nf4, Int8, or a ggml block format: Q6_K (6.56 bits per weight, what llama.cpp gives the head of its 4-bit files),
    /// Q8_0, Q4_K, Q4_0. Applied when loading (a tied head: its own copy of the embedding table); a bitsandbytes
    /// checkpoint cannot store a ggml head, so <see cref="Llama.CheckpointQuantizer"/> refuses one that differs from Format.
    /// </summary>
    public QuantFormat? LmHeadFormat { get; init; }

    /// <summary>NF4 with double quantization and blocks of 64 (QLoRA's defaults).</summary>
    public static QuantizationConfig Nf4(bool doubleQuant = true, int blockSize = 64) =>
        new() { Format = QuantFormat.Nf4, DoubleQuant = doubleQuant, BlockSize = blockSize };

    /// <summary>Row-wise INT8 (LLM.int8 storage).</summary>
    public static QuantizationConfig Int8() => new() { Format = QuantFormat.Int8 };

    /// <summary>Parses a format name: nf4 or int8 (case-insensitive); the message names the choices otherwise.</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static QuantFormat ParseFormat(string name, string what = "--format") => name?.Trim().ToLowerInvariant() switch
    {
        "nf4" => QuantFormat.Nf4,
        "int8" => QuantFormat.Int8,
        _ => throw new ArgumentException($"{what} must be one of nf4, int8; got '{name}'."),
    };

    /// <summary>Parses an lm_head format name: nf4, int8, q8_0, q6_k, q4_k or q4_0 (case-insensitive); the message names the choices otherwise.</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static QuantFormat ParseLmHeadFormat(string name, string what = "--lm-head-format") => name?.Trim().ToLowerInvariant() switch
    {
        "nf4" => QuantFormat.Nf4,
        "int8" => QuantFormat.Int8,
        "q8_0" => QuantFormat.Q8_0,
        "q6_k" => QuantFormat.Q6_K,
        "q4_k" => QuantFormat.Q4_K,
        "q4_0" => QuantFormat.Q4_0,
        _ => throw new ArgumentException($"{what} must be one of nf4, int8, q8_0, q6_k, q4_k, q4_0; got '{name}'."),
    };

    /// <summary>Checks the values (block size positive and even).</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (Format == QuantFormat.Nf4 && (BlockSize <= 0 || BlockSize % 2 != 0 || BlockSize > 4096))
            throw new ArgumentException($"NF4 block size must be a positive even number up to 4096, got {BlockSize}.");
        if (Format is not (QuantFormat.Nf4 or QuantFormat.Int8)) throw new ArgumentException($"Quantization format {Format} is not one of NF4, INT8.");
        if (LmHeadFormat is { } head && head is not (QuantFormat.Nf4 or QuantFormat.Int8 or QuantFormat.Q8_0 or QuantFormat.Q6_K or QuantFormat.Q4_K or QuantFormat.Q4_0))
            throw new ArgumentException($"lm_head format {head} is not one of NF4, INT8, Q8_0, Q6_K, Q4_K, Q4_0.");
    }

    /// <summary>True when the linear module <paramref name="moduleName"/> (e.g. lm_head, model.layers.0.mlp.up_proj) stays dense.</summary>
    public bool Skips(string moduleName)
    {
        ArgumentNullException.ThrowIfNull(moduleName);
        string dotted = "." + moduleName + ".";
        return SkipModules.Any(s => s.Length > 0 && dotted.Contains("." + s.Trim('.') + ".", StringComparison.Ordinal));
    }

    /// <summary>Quantizes one dense weight [out, in] (F32/BF16/F16, any device) as this config says, onto <paramref name="device"/> (default: the weight's).</summary>
    public QuantizedTensor Quantize(Tensor weight, Device? device = null)
    {
        Validate();
        return Format == QuantFormat.Nf4
            ? Nf4Quantizer.Quantize(weight, device, BlockSize, DoubleQuant)
            : Int8Quantizer.Quantize(weight, device);
    }

    /// <summary>Quantizes the lm_head weight [vocab, hidden] (the embedding table when tied) to <see cref="LmHeadFormat"/> (default <see cref="Format"/>).</summary>
    public QuantizedTensor QuantizeLmHead(Tensor weight, Device? device = null)
    {
        Validate();
        return LmHeadFormat switch
        {
            null => Quantize(weight, device),
            QuantFormat.Nf4 => Nf4Quantizer.Quantize(weight, device, BlockSize, DoubleQuant),
            QuantFormat.Int8 => Int8Quantizer.Quantize(weight, device),
            var block => QuantizeBlocks(weight, block.Value switch
            {
                QuantFormat.Q8_0 => Kernels.Blocks.GgmlType.Q8_0,
                QuantFormat.Q6_K => Kernels.Blocks.GgmlType.Q6_K,
                QuantFormat.Q4_K => Kernels.Blocks.GgmlType.Q4_K,
                _ => Kernels.Blocks.GgmlType.Q4_0,
            }, device),
        };
    }

    private static GgmlBlockTensor QuantizeBlocks(Tensor weight, Kernels.Blocks.GgmlType type, Device? device)
    {
        int values = Kernels.Blocks.BlockFormats.BlockValues(type);
        if (weight.Shape.Rank == 2 && weight.Shape[1] % values != 0)
            throw new ArgumentException($"lm_head {weight.Shape} cannot be {type}: its rows of {weight.Shape[1]} values are not whole blocks of {values} (choose q8_0, q4_0, int8 or nf4).", nameof(weight));
        return GgmlQuantizer.Quantize(weight, type, device);
    }

    /// <summary>"NF4 (double-quantized absmax, blocks of 64)" or "INT8 (row-wise)", with ", lm_head Q6_K" when the head has a format of its own.</summary>
    public string Describe() => (Format == QuantFormat.Nf4
        ? $"NF4 ({(DoubleQuant ? "double-quantized" : "F32")} absmax, blocks of {BlockSize})"
        : "INT8 (row-wise absmax)") + (LmHeadFormat is { } head && !Skips("lm_head") ? $", lm_head {head}" : "");

    /// <summary>This record as transformers' BitsAndBytesConfig.to_dict() writes it.</summary>
    public JsonObject ToJson()
    {
        bool four = Format == QuantFormat.Nf4;
        var skip = new JsonArray();
        foreach (var s in SkipModules) skip.Add(s);
        return new JsonObject
        {
            ["_load_in_4bit"] = four,
            ["_load_in_8bit"] = !four,
            ["bnb_4bit_compute_dtype"] = ComputeDType,
            ["bnb_4bit_quant_storage"] = "uint8",
            ["bnb_4bit_quant_type"] = "nf4",
            ["bnb_4bit_use_double_quant"] = four && DoubleQuant,
            ["llm_int8_enable_fp32_cpu_offload"] = false,
            ["llm_int8_has_fp16_weight"] = false,
            ["llm_int8_skip_modules"] = skip,
            // A float, written "6.0": transformers' BitsAndBytesConfig rejects the integer 6 that a plain 6.0 double prints as.
            ["llm_int8_threshold"] = JsonNode.Parse("6.0"),
            ["load_in_4bit"] = four,
            ["load_in_8bit"] = !four,
            ["quant_method"] = "bitsandbytes",
        };
    }

    /// <summary>The quantization_config of a config.json file, or null when it has none.</summary>
    /// <exception cref="InvalidDataException">The field is malformed or asks for something PureLlama does not read (names the field and file).</exception>
    public static QuantizationConfig? FromConfigFile(string configPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(configPath);
        return FromConfigJson(IO.StrictJson.ReadText(configPath), configPath);
    }

    /// <summary>The bitsandbytes quantization_config of config.json text, or null when it has none (or is GPTQ/AWQ, see IO.Int4CheckpointConfig).</summary>
    /// <exception cref="InvalidDataException">The field is malformed or unsupported.</exception>
    public static QuantizationConfig? FromConfigJson(string json, string source = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = JsonConfigReader.ParseDocument(json, source);
        var root = new JsonConfigReader(doc.RootElement, source);
        if (!root.TryGet(FieldName, out var q)) return null;
        if (q.ValueKind != JsonValueKind.Object) throw root.Error(FieldName, $"is {q.GetRawText()}; expected an object.");
        var r = new JsonConfigReader(q, source);
        InvalidDataException Bad(string field, string problem) => root.Error($"{FieldName}.{field}", problem);

        string method = r.OptionalString("quant_method") ?? "bitsandbytes";
        if (method is "gptq" or "awq") return null; // 4-bit group checkpoints: IO.Int4CheckpointConfig reads them
        if (method != "bitsandbytes")
            throw Bad("quant_method", $"is '{method}'; PureLlama reads bitsandbytes NF4/INT8 checkpoints here.");
        bool four = (r.OptionalBool("load_in_4bit") ?? false) || (r.OptionalBool("_load_in_4bit") ?? false);
        bool eight = (r.OptionalBool("load_in_8bit") ?? false) || (r.OptionalBool("_load_in_8bit") ?? false);
        if (four == eight)
            throw Bad("load_in_4bit", four ? "and load_in_8bit are both true; exactly one may be." : "and load_in_8bit are both false or missing; one must be true.");
        if (r.OptionalBool("llm_int8_has_fp16_weight") == true)
            throw Bad("llm_int8_has_fp16_weight", "is true: the weights are stored in 16-bit, not quantized; PureLlama reads int8 storage only.");
        string quantType = r.OptionalString("bnb_4bit_quant_type") ?? "fp4";
        if (four && quantType != "nf4")
            throw Bad("bnb_4bit_quant_type", $"is '{quantType}'; PureLlama reads 4-bit NF4 only (bitsandbytes' default when absent is fp4).");
        string storage = r.OptionalString("bnb_4bit_quant_storage") ?? "uint8";
        if (four && storage != "uint8")
            throw Bad("bnb_4bit_quant_storage", $"is '{storage}'; PureLlama reads NF4 packed in uint8.");

        IReadOnlyList<string> skip = ["lm_head"];
        if (r.TryGet("llm_int8_skip_modules", out var s))
        {
            if (s.ValueKind != JsonValueKind.Array || s.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                throw Bad("llm_int8_skip_modules", $"is {s.GetRawText()}; expected null or a list of module names.");
            skip = s.EnumerateArray().Select(e => e.GetString()!).ToArray();
        }
        return new QuantizationConfig
        {
            Format = four ? QuantFormat.Nf4 : QuantFormat.Int8,
            DoubleQuant = four && (r.OptionalBool("bnb_4bit_use_double_quant") ?? false),
            ComputeDType = r.OptionalString("bnb_4bit_compute_dtype") ?? "float32",
            SkipModules = skip,
        };
    }

    /// <summary>Name of a weight dtype as torch writes it (quant_state "dtype"); see <see cref="DTypeInfo.TorchName"/>.</summary>
    public static string TorchName(DType dtype) => dtype.TorchName();
}
