using System.Text.Json.Nodes;
using PureLlama.Autograd;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// Folds a PEFT LoRA adapter into its base model and writes a plain Hugging Face checkpoint
/// (model.safetensors, config.json with torch_dtype updated, tokenizer and generation files copied),
/// loadable by PureLlama and by transformers without PEFT.
/// </summary>
public static class LoraMerge
{
    /// <summary>Files copied unchanged from the base model folder when present.</summary>
    public static IReadOnlyList<string> CopiedFiles { get; } = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"];

    /// <summary>
    /// Loads <paramref name="modelDir"/> on <paramref name="device"/> (default CPU), attaches and merges the
    /// adapter in <paramref name="adapterDir"/>, and writes the merged model to <paramref name="outDir"/> as
    /// <paramref name="dtype"/> (F32 or BF16; default: BF16 when the base's torch_dtype is bfloat16, else F32).
    /// Returns the adapter's summary line.
    /// </summary>
    public static string WriteMergedCheckpoint(string modelDir, string adapterDir, string outDir, DType? dtype = null, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDir);
        ArgumentException.ThrowIfNullOrEmpty(adapterDir);
        ArgumentException.ThrowIfNullOrEmpty(outDir);
        if (Path.GetFullPath(outDir) == Path.GetFullPath(modelDir)) throw new ArgumentException($"The output folder '{outDir}' must differ from the base model folder.");
        LlamaModel model;
        LlamaConfig config;
        using (var checkpoint = HfCheckpoint.Open(modelDir))
        {
            config = LlamaConfig.FromFile(checkpoint.ConfigPath);
            model = LlamaModel.Load(checkpoint, config, device ?? Device.Cpu, quantize: null);   // a quantized base merges into its dequantized weights
        }
        using (model)
        {
            var target = dtype ?? (config.TorchDtype == "bfloat16" ? DType.BF16 : DType.F32);
            if (target is not (DType.F32 or DType.BF16)) throw new ArgumentException($"The merged checkpoint's dtype must be F32 or BF16, not {target}.");
            var adapter = LoraAdapter.Load(model, adapterDir);
            string summary = adapter.Summary;
            adapter.Merge();
            WriteModelFolder(model, modelDir, outDir, target);
            return summary;
        }
    }

    /// <summary>
    /// Writes a dense model folder (weights as <paramref name="dtype"/>, <paramref name="sourceDir"/>'s config with torch_dtype
    /// updated, its tokenizer and generation files) into <paramref name="outDir"/>, atomically as a whole (<see cref="AtomicFolder"/>);
    /// other files of an existing folder are kept, its old weight files are not.
    /// </summary>
    internal static void WriteModelFolder(LlamaModel model, string sourceDir, string outDir, DType dtype) => AtomicFolder.Write<object?>(outDir, temp =>
    {
        WriteWeights(model, Path.Combine(temp, HfCheckpoint.SingleFileName), dtype);
        WriteConfig(Path.Combine(sourceDir, "config.json"), Path.Combine(temp, "config.json"), dtype);
        foreach (var name in CopiedFiles)
        {
            string src = Path.Combine(sourceDir, name);
            if (File.Exists(src)) AtomicFile.Copy(src, Path.Combine(temp, name));
        }
        return null;
    }, carryOver: name => !HfCheckpointWriter.IsWeightFile(name)); // a user's other files in an existing output folder stay

    /// <summary>
    /// Every weight of a model under Hugging Face names, quantized projections dequantized, converted to <paramref name="dtype"/>;
    /// <paramref name="dropTiedHead"/> leaves out a tied quantized lm_head (its values are the embedding table's).
    /// </summary>
    internal static void WriteWeights(LlamaModel model, string path, DType dtype, bool dropTiedHead = false)
    {
        var named = new List<(string, Tensor)> { ("model.embed_tokens.weight", model.EmbedTokens.Table), ("model.norm.weight", model.Norm.Weight) };
        foreach (var l in model.Layers)
        {
            named.Add(($"model.layers.{l.Index}.input_layernorm.weight", l.InputNorm.Weight));
            named.Add(($"model.layers.{l.Index}.post_attention_layernorm.weight", l.PostAttentionNorm.Weight));
        }
        var dequantized = new List<Tensor>();
        var converted = new List<(string, Tensor)>();
        try
        {
            foreach (var (name, linear) in model.NamedLinears())
            {
                if (name == "lm_head" && model.Config.TieWordEmbeddings && (linear is Linear || dropTiedHead)) continue;
                if (linear is QuantLinear q)   // a quantized layer is written as its dequantized weight Ŵ
                {
                    var w = Tensor.Empty(q.Weight.Shape, DType.F32, q.Weight.Device);
                    dequantized.Add(w);
                    w.Backend.Dequantize(q.Weight, w);
                    named.Add((name + ".weight", w));
                }
                else named.Add((name + ".weight", linear.DenseWeight()));
            }
            using var _ = GradMode.NoGrad();
            foreach (var (name, t) in named)
            {
                var host = t.Device == Device.Cpu ? t : t.To(Device.Cpu);
                var c = host.DType == dtype ? host : host.To(dtype);
                if (!ReferenceEquals(host, t) && !ReferenceEquals(host, c)) host.Dispose();
                converted.Add((name, c));
            }
            SafeTensorsWriter.Write(path, converted, new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally
        {
            for (int i = 0; i < converted.Count; i++)
                if (!ReferenceEquals(converted[i].Item2, named[i].Item2)) converted[i].Item2.Dispose();
            foreach (var w in dequantized) w.Dispose();
        }
    }

    internal static void WriteConfig(string source, string destination, DType dtype)
    {
        var node = IO.StrictJson.ReadObject(source);
        node["torch_dtype"] = dtype == DType.BF16 ? "bfloat16" : "float32";
        node.Remove("quantization_config");   // the weights written are dense
        AtomicFile.Write(destination, s => s.Write(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }))));
    }
}
