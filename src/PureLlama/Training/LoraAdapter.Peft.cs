using System.Text.Json;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Training;

// PEFT's on-disk format: adapter_model.safetensors (lora_A/lora_B under base_model.model.<module>,
// without the adapter name "default") and adapter_config.json (LoraConfig's fields, keys sorted).
public sealed partial class LoraAdapter
{
    /// <summary>File name of the adapter weights.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>File name of the adapter configuration.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>
    /// Writes adapter_model.safetensors (F32) and adapter_config.json into <paramref name="directory"/>
    /// (created if missing), each atomically, so that PEFT's <c>PeftModel.from_pretrained</c> loads them.
    /// </summary>
    public void Save(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ThrowIfDetached();
        Directory.CreateDirectory(directory);
        SafeTensorsWriter.Write(Path.Combine(directory, WeightsFileName), _parameters.Select(p => (p.Name, p.Value)),
            new Dictionary<string, string> { ["format"] = "pt" });
        var json = ConfigJson();
        AtomicFile.Write(Path.Combine(directory, ConfigFileName), s => s.Write(json));
    }

    /// <summary>adapter_config.json as PEFT writes it (json.dumps(indent=2, sort_keys=True)).</summary>
    private byte[] ConfigJson()
    {
        var modules = _layers.Select(l => l.Module[(l.Module.LastIndexOf('.') + 1)..]).Distinct().OrderBy(x => x, StringComparer.Ordinal).ToList();
        var fields = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["alpha_pattern"] = new Dictionary<string, object>(),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = Config.BaseModelNameOrPath,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layer_replication"] = null,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["loftq_config"] = new Dictionary<string, object>(),
            ["lora_alpha"] = Config.Alpha == MathF.Round(Config.Alpha) ? (object)(long)Config.Alpha : Config.Alpha,
            ["lora_dropout"] = (double)(decimal)Config.Dropout,
            ["megatron_config"] = null,
            ["megatron_core"] = "megatron.core",
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = Config.R,
            ["rank_pattern"] = new Dictionary<string, object>(),
            ["revision"] = null,
            ["target_modules"] = modules,
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = Config.UseRsLora,
        };
        return JsonSerializer.SerializeToUtf8Bytes(fields, new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// Reads a PEFT LoRA adapter from <paramref name="directory"/> and attaches it to <paramref name="model"/>
    /// in evaluation mode. Keys may carry the adapter name (<c>lora_A.default.weight</c>); every module
    /// with weights in the file is wrapped. Throws <see cref="InvalidDataException"/> naming the file, key
    /// and shape on unsupported options (DoRA, bias, fan_in_fan_out, rank/alpha patterns) or mismatches.
    /// </summary>
    public static LoraAdapter Load(LlamaModel model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string configPath = Path.Combine(directory, ConfigFileName), weightsPath = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"No {ConfigFileName} in adapter folder '{directory}'.", configPath);
        if (!File.Exists(weightsPath))
            throw new FileNotFoundException($"No {WeightsFileName} in adapter folder '{directory}'" +
                (File.Exists(Path.Combine(directory, "adapter_model.bin")) ? " (adapter_model.bin is a pickle: re-save it with safe_serialization=True)." : "."), weightsPath);
        var config = ReadConfig(configPath);

        using var file = SafeTensorsFile.Open(weightsPath);
        var pairs = new Dictionary<string, (Tensor? A, Tensor? B)>(StringComparer.Ordinal);
        var modules = model.NamedLinears().ToDictionary(n => n.Name, n => n.Linear, StringComparer.Ordinal);
        try
        {
            foreach (var info in file.Tensors)
            {
                var (module, isA) = ParseKey(info.Name, weightsPath);
                if (!modules.TryGetValue(module, out var linear))
                    throw new InvalidDataException($"'{weightsPath}': tensor '{info.Name}' names module '{module}', which the model does not have.");
                var shape = info.Shape;
                var expected = isA ? new Shape(config.R, linear.InFeatures) : new Shape(linear.OutFeatures, config.R);
                if (shape != expected)
                    throw new InvalidDataException($"'{weightsPath}': tensor '{info.Name}' is {shape}; expected {expected} (r = {config.R}, {module} is [{linear.OutFeatures}, {linear.InFeatures}]).");
                if (info.DType is not (DType.F32 or DType.BF16 or DType.F16))
                    throw new InvalidDataException($"'{weightsPath}': tensor '{info.Name}' is {info.DTypeName}; LoRA weights must be F32, BF16 or F16.");
                using var raw = file.GetTensor(info.Name);
                using var f32 = raw.DType == DType.F32 ? null : raw.To(DType.F32);
                FiniteValues.Require((f32 ?? raw).ToArray<float>(), $"'{weightsPath}': tensor '{info.Name}'",
                    "adapter weights must be finite (was it saved from a diverged run?).");
                var onDevice = (f32 ?? raw).To(model.Device);
                var slot = pairs.GetValueOrDefault(module);
                if ((isA ? slot.A : slot.B) is not null) { onDevice.Dispose(); throw new InvalidDataException($"'{weightsPath}': module '{module}' has two lora_{(isA ? "A" : "B")} tensors."); }
                pairs[module] = isA ? (onDevice, slot.B) : (slot.A, onDevice);
            }
            foreach (var (module, (a, b)) in pairs)
                if (a is null || b is null)
                    throw new InvalidDataException($"'{weightsPath}': module '{module}' has lora_{(a is null ? "A" : "B")} missing.");
            if (pairs.Count == 0) throw new InvalidDataException($"'{weightsPath}' holds no lora_A/lora_B tensors.");
        }
        catch
        {
            foreach (var (a, b) in pairs.Values) { a?.Dispose(); b?.Dispose(); }
            throw;
        }

        var dropout = new LoraDropout(config.Dropout, 0) { Training = false };
        var targets = pairs.Keys.Select(m => m[(m.LastIndexOf('.') + 1)..]).Distinct().ToList();
        var resolved = config with { TargetModules = targets };
        var chosen = new HashSet<string>(pairs.Keys, StringComparer.Ordinal);
        try
        {
            return WrapModules(model, resolved, dropout, chosen, (module, baseLayer) =>
                new LoraLinear(baseLayer, pairs[module].A!, pairs[module].B!, config.Alpha, config.UseRsLora, dropout));
        }
        catch
        {
            foreach (var (a, b) in pairs.Values) { a?.Dispose(); b?.Dispose(); }
            throw;
        }
    }

    // base_model.model.<module>.lora_A[.default].weight → (<module>, true)
    private static (string Module, bool IsA) ParseKey(string key, string path)
    {
        string k = key.StartsWith(KeyPrefix, StringComparison.Ordinal) ? key[KeyPrefix.Length..] : key;
        foreach (var (suffix, isA) in new[] { (".lora_A.weight", true), (".lora_B.weight", false), (".lora_A.default.weight", true), (".lora_B.default.weight", false) })
            if (k.EndsWith(suffix, StringComparison.Ordinal)) return (k[..^suffix.Length], isA);
        throw new InvalidDataException($"'{path}': tensor '{key}' is not a LoRA weight (expected {KeyPrefix}<module>.lora_A.weight or .lora_B.weight; " +
            "DoRA magnitudes, biases and modules_to_save are not supported).");
    }

    private static LoraConfig ReadConfig(string path)
    {
        using var doc = JsonConfigReader.ParseDocument(StrictJson.ReadText(path), path);
        var r = new JsonConfigReader(doc.RootElement, path);
        string? type = r.OptionalString("peft_type");
        if (type is not null && type != "LORA") throw r.Error("peft_type", $"is \"{type}\"; only LORA adapters are supported.");
        if (r.OptionalBool("use_dora") == true) throw r.Error("use_dora", "is true; DoRA adapters are not supported.");
        if (r.OptionalBool("fan_in_fan_out") == true) throw r.Error("fan_in_fan_out", "is true; Llama's nn.Linear layers use fan_in_fan_out = false.");
        string bias = r.OptionalString("bias") ?? "none";
        if (bias != "none") throw r.Error("bias", $"is \"{bias}\"; only \"none\" is supported (Llama's projections have no bias).");
        foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
            if (r.TryGet(pattern, out var p) && p.ValueKind == JsonValueKind.Object && p.EnumerateObject().Any())
                throw r.Error(pattern, "is not empty; per-module ranks or alphas are not supported.");
        var targets = new List<string>();
        if (r.TryGet("target_modules", out var t))
        {
            if (t.ValueKind == JsonValueKind.String) targets.Add(t.GetString()!);
            else if (t.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (var e in t.EnumerateArray())
                {
                    if (e.ValueKind != JsonValueKind.String || e.GetString() is not { Length: > 0 } name)
                        throw r.Error($"target_modules[{i}]", $"is {e.GetRawText()}; expected a module name string.");
                    targets.Add(name);
                    i++;
                }
            }
            else throw r.Error("target_modules", $"is {t.GetRawText()}; expected a module name or a list of them.");
        }
        return new LoraConfig
        {
            R = r.RequiredInt("r", 1),
            Alpha = (float)(r.OptionalDouble("lora_alpha", 0, double.PositiveInfinity, minExclusive: true) ?? 8),
            Dropout = (float)(r.OptionalDouble("lora_dropout", 0, 1, minExclusive: false) ?? 0),
            UseRsLora = r.OptionalBool("use_rslora") ?? false,
            TargetModules = targets,
            BaseModelNameOrPath = r.OptionalString("base_model_name_or_path"),
        };
    }
}
