using System.CommandLine;
using PureLlama.IO;
using PureLlama.Llama;

namespace PureLlama.Cli.Commands;

/// <summary>Options shared by the commands that load a model: --model, --device, --loading, --context, --kv-cache, --adapter.</summary>
internal sealed class ModelCliOptions
{
    public Option<string> Model { get; } = new("--model") { Description = "Hugging Face model folder (config.json, *.safetensors, tokenizer.json) or a llama.cpp .gguf file", Required = true };
    public Option<string?> Device { get; } = DeviceOption.Create();
    public Option<string> Loading { get; } = new("--loading") { Description = "copied (anonymous memory, faster decode; default) | mapped (memory-mapped, instant load)", DefaultValueFactory = _ => "copied" };
    public Option<int?> Context { get; } = new("--context") { Description = "positions per sequence (default: max_position_embeddings, at most 8192)" };
    public Option<string?> Adapter { get; } = new("--adapter") { Description = "PEFT LoRA adapter folder to apply (adapter_config.json, adapter_model.safetensors)" };
    public Option<string> KvCache { get; } = new("--kv-cache") { Description = "KV cache storage: f32 (default, exact) | bf16 (half the memory)", DefaultValueFactory = _ => "f32" };
    public Option<bool> QuantizeLmHead { get; } = new("--quantize-lm-head") { Description = "with --quantize: quantize lm_head too (a tied lm_head gets its own quantized copy of the embedding table); it is a quarter of a 1B model's decode reads in BF16" };
    public Option<string?> LmHeadFormat { get; } = CreateLmHeadFormat();
    public Option<bool> ExactDequant { get; } = new("--exact-dequant") { Description = "CPU: multiply quantized weights as exact F32 codes (the fidelity path) instead of int8 dot products on int8-quantized activations (the fast default; docs/kernels/int8-dot.md)" };
    public Option<string?> Quantize { get; } = new("--quantize") { Description = "quantize the projections while loading: nf4 | int8 (a folder written by purellama quantize loads quantized without it)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Model); command.Options.Add(Device); command.Options.Add(Loading); command.Options.Add(Context); command.Options.Add(KvCache);
        command.Options.Add(Quantize); command.Options.Add(QuantizeLmHead); command.Options.Add(LmHeadFormat); command.Options.Add(Adapter);
        command.Options.Add(ExactDequant);
    }

    public LlamaRuntime Load(ParseResult parse)
    {
        var kv = parse.GetValue(KvCache)?.Trim().ToLowerInvariant() switch
        {
            "f32" or null => Tensors.DType.F32,
            "bf16" => Tensors.DType.BF16,
            var other => throw new ArgumentException($"--kv-cache must be f32 or bf16, not '{other}'."),
        };
        var runtime = LoadWeights(parse);
        runtime.KvCacheDType = kv;
        if (parse.GetValue(Adapter) is { } adapterDir)
        {
            try
            {
                // Stays attached (the model owns the wrapped layers): the base keeps its dtype or quantization.
                var adapter = Training.LoraAdapter.Load(runtime.Model, adapterDir);
                Console.Error.WriteLine($"adapter {adapterDir}: r={adapter.Config.R}, {adapter.Layers.Count} modules; {adapter.Summary}");
            }
            catch { runtime.Dispose(); throw; }
        }
        return runtime;
    }

    /// <summary>The model of --model, --device, --loading, --context, --quantize and --quantize-lm-head (not --kv-cache nor --adapter).</summary>
    public LlamaRuntime LoadWeights(ParseResult parse)
    {
        var loading = parse.GetValue(Loading)?.Trim().ToLowerInvariant() switch
        {
            "copied" or "copy" or null => WeightLoading.Copied,
            "mapped" or "mmap" => WeightLoading.Mapped,
            var other => throw new ArgumentException($"--loading must be copied or mapped, not '{other}'."),
        };
        var device = DeviceOption.Resolve(parse.GetValue(Device));
        if (parse.GetValue(ExactDequant)) Compute.QuantizedInference.ExactDequant = true;   // only ever turned on: in-process callers (tests) keep their choice
        return LlamaRuntime.Load(parse.GetValue(Model)!, device, loading, parse.GetValue(Context), QuantizeOption(parse.GetValue(Quantize), parse.GetValue(QuantizeLmHead), parse.GetValue(LmHeadFormat)));
    }

    /// <summary>The --lm-head-format option (shared by the commands that load a model and bench-decode).</summary>
    public static Option<string?> CreateLmHeadFormat() => new("--lm-head-format")
    {
        Description = "with --quantize: quantize lm_head (implies --quantize-lm-head) to q6_k (6.56 bits/weight, what llama.cpp gives the head of its 4-bit files) | q8_0 | q4_k | q4_0 | int8 | nf4 (default: the --quantize format)",
    };

    /// <summary>The config of a --quantize value (null when absent): nf4 (QLoRA defaults) or int8.</summary>
    /// <param name="value">The --quantize value.</param>
    /// <param name="lmHead">Quantize lm_head too (--quantize-lm-head; bitsandbytes leaves it dense by default).</param>
    /// <param name="lmHeadFormat">The --lm-head-format value: lm_head quantized to this format (implies <paramref name="lmHead"/>).</param>
    public static Quantization.QuantizationConfig? QuantizeOption(string? value, bool lmHead = false, string? lmHeadFormat = null)
    {
        if (value is null)
        {
            if (lmHead || lmHeadFormat is not null)
                throw new ArgumentException($"{(lmHeadFormat is not null ? "--lm-head-format" : "--quantize-lm-head")} needs --quantize nf4|int8 (for a folder stored in NF4/INT8, its own format; for a GPTQ/AWQ checkpoint, whose projections stay as stored, it names the format of nothing but the head).");
            return null;
        }
        var config = Quantization.QuantizationConfig.ParseFormat(value, "--quantize") == Tensors.QuantFormat.Nf4
            ? Quantization.QuantizationConfig.Nf4() : Quantization.QuantizationConfig.Int8();
        if (lmHeadFormat is not null) return config with { SkipModules = [], LmHeadFormat = Quantization.QuantizationConfig.ParseLmHeadFormat(lmHeadFormat) };
        return lmHead ? config with { SkipModules = [] } : config;
    }

    /// <summary>Runs <paramref name="body"/>, turning the errors users cause into one line on stderr and exit code 2 (3: training diverged).</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (TrainingDivergedException e)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"error: {e.Message}");
            return 3;
        }
        catch (Exception e) when (CliErrors.IsUserError(e))
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"error: {CliErrors.Line(e)}");
            return 2;
        }
    }
}

/// <summary>The sampling options of generate and chat, defaulting to the model's generation_config.json.</summary>
internal sealed class SamplingCliOptions
{
    public Option<int?> MaxNewTokens { get; } = new("--max-new-tokens") { Description = "tokens to generate at most (default: generation_config max_new_tokens, else 256)" };
    public Option<float?> Temperature { get; } = new("--temperature") { Description = "softmax temperature; 0 = greedy (default: generation_config)" };
    public Option<int?> TopK { get; } = new("--top-k") { Description = "keep the k most likely tokens; 0 = off" };
    public Option<float?> TopP { get; } = new("--top-p") { Description = "nucleus sampling mass in (0, 1]; 1 = off" };
    public Option<float?> MinP { get; } = new("--min-p") { Description = "drop tokens below min-p × the top probability; 0 = off" };
    public Option<float?> RepetitionPenalty { get; } = new("--repetition-penalty") { Description = "HF repetition penalty; 1 = off" };
    public Option<ulong?> Seed { get; } = new("--seed") { Description = "sampling seed (same seed, same tokens)" };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "stop when this text appears (repeatable)", AllowMultipleArgumentsPerToken = false };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { MaxNewTokens, Temperature, TopK, TopP, MinP, RepetitionPenalty, Seed, Stop }) command.Options.Add(o);
    }

    public SamplingOptions Resolve(ParseResult parse, SamplingOptions defaults)
    {
        var o = defaults;
        if (parse.GetValue(MaxNewTokens) is int n) o = o with { MaxNewTokens = n };
        if (parse.GetValue(Temperature) is float t) o = o with { Temperature = t }; // > 0 samples (HF do_sample); top-k/p stay as configured
        if (parse.GetValue(TopK) is int k) o = o with { TopK = k };
        if (parse.GetValue(TopP) is float p) o = o with { TopP = p };
        if (parse.GetValue(MinP) is float m) o = o with { MinP = m };
        if (parse.GetValue(RepetitionPenalty) is float r) o = o with { RepetitionPenalty = r };
        if (parse.GetValue(Seed) is ulong s) o = o with { Seed = s };
        if (parse.GetValue(Stop) is { Length: > 0 } stops) o = o with { StopStrings = stops };
        o.Validate();
        return o;
    }
}
