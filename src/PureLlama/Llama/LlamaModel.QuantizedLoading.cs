using PureLlama.IO;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Llama;

public sealed partial class LlamaModel
{
    private static readonly DType[] s_denseTypes = [DType.F32, DType.BF16, DType.F16];

    /// <summary>
    /// Builds the model from a checkpoint whose projections are stored quantized (its config.json has a
    /// bitsandbytes <c>quantization_config</c>: NF4 or INT8 components under bitsandbytes' names, read and
    /// checked by <see cref="BitsAndBytesFormat"/>), or quantizes a dense checkpoint's projections while
    /// loading when <paramref name="quantize"/> is given: each dense weight is read alone
    /// (<see cref="HfCheckpoint.ReadCopy"/>), quantized and freed, so with a memory-mapped checkpoint the
    /// peak is the quantized model plus one dense weight. Embeddings, norms and skipped modules (lm_head
    /// by default) stay as stored. Projections become <see cref="QuantLinear"/> layers; the model code is the same.
    /// </summary>
    /// <param name="checkpoint">The model folder.</param>
    /// <param name="config">Its architecture.</param>
    /// <param name="device">Where to compute.</param>
    /// <param name="quantize">Quantize a dense checkpoint on load (ignored for a checkpoint already stored in that format; an error for another format; for a GPTQ/AWQ checkpoint, when it includes lm_head, the dense head alone). Null: load as stored.</param>
    /// <param name="copyKeptWeights">When the checkpoint is memory-mapped, copy the weights kept as stored (embeddings, norms…) into memory of their own rather than viewing the mapping.</param>
    /// <exception cref="InvalidDataException">A tensor is missing, unexpected, mis-shaped or corrupt (the message names it and its file), or the formats disagree.</exception>
    public static LlamaModel Load(HfCheckpoint checkpoint, LlamaConfig config, Device device, QuantizationConfig? quantize, bool copyKeptWeights = false)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(config);
        using var weights = Kernels.Simd.HugePages.ForWeights();
        if (Int4CheckpointConfig.FromConfigFile(checkpoint.ConfigPath) is { } int4)
        {
            // Its projections stay as stored; a quantization that includes lm_head quantizes the dense head alone.
            if (quantize is not null && quantize.Skips("lm_head"))
                throw new InvalidDataException($"'{checkpoint.Directory}' is stored as {int4.Describe()}; it cannot be re-quantized to {quantize.Format} (quantize the dense model instead, or quantize its lm_head alone with --quantize-lm-head).");
            return Int4Checkpoint.Load(checkpoint, config, device, int4, head: quantize);
        }
        var stored = QuantizationConfig.FromConfigFile(checkpoint.ConfigPath);
        if (stored is null && quantize is null && !copyKeptWeights) return Load(checkpoint, config, device);
        config.CheckConsistency(checkpoint.ConfigPath);
        Tensor Kept(string name, Shape shape) =>
            copyKeptWeights ? checkpoint.ReadCopy(name, shape, s_denseTypes) : checkpoint.GetTensor(name, shape, s_denseTypes);

        if (stored is not null)
        {
            if (quantize is not null && quantize.Format != stored.Format)
                throw new InvalidDataException($"'{checkpoint.Directory}' is stored as {stored.Describe()}; it cannot be re-quantized to {quantize.Format} (quantize the dense model instead).");
            var formats = ValidateQuantized(checkpoint, config, stored);
            return Build(config, device, Kept, (module, shape) =>
                formats.ContainsKey(module) ? new QuantLinear(OnDevice(BitsAndBytesFormat.Read(checkpoint, module, shape), device)) : null);
        }
        quantize!.Validate();
        config.Validate(checkpoint);
        var model = Build(config, device, Kept, (module, shape) =>
        {
            if (quantize.Skips(module)) return null;
            // A tied lm_head (quantized only when not skipped) is quantized from the embedding table.
            string source = module == "lm_head" && config.TieWordEmbeddings ? "model.embed_tokens.weight" : module + ".weight";
            using var dense = checkpoint.ReadCopy(source, shape, s_denseTypes);
            return new QuantLinear(module == "lm_head" ? quantize.QuantizeLmHead(dense, device) : quantize.Quantize(dense, device));
        });
        // The quantizer's F32 staging arrays (4 bytes per weight of the largest matrix) are large-object
        // garbage now: return their pages to the OS instead of keeping them in the process peak.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return model;
    }

    private static QuantizedTensor OnDevice(QuantizedTensor q, Device device)
    {
        if (q.Device == device) return q;
        using (q) return q.To(device);
    }

    /// <summary>
    /// Checks a quantized checkpoint against the architecture: each projection stored either dense (F32/BF16/F16
    /// of its shape) or in the config's format, every other tensor as in a dense checkpoint, nothing unexpected.
    /// Returns the quantized modules. Component contents are checked when each weight is read.
    /// </summary>
    private static Dictionary<string, QuantFormat> ValidateQuantized(HfCheckpoint checkpoint, LlamaConfig config, QuantizationConfig stored)
    {
        var quantized = new Dictionary<string, QuantFormat>(StringComparer.Ordinal);
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        string Where(string name) => Path.GetFileName(checkpoint.FileOf(name).Path);
        foreach (var spec in config.ExpectedTensors())
        {
            allowed.Add(spec.Name);
            string module = spec.Name[..^".weight".Length];
            if (spec.Shape.Rank == 2 && spec.Name != "model.embed_tokens.weight" && BitsAndBytesFormat.Detect(checkpoint, module) is QuantFormat f)
            {
                if (f != stored.Format) problems.Add($"'{module}' is stored as {f} but quantization_config says {stored.Format}");
                quantized[module] = f;
                allowed.UnionWith(BitsAndBytesFormat.ComponentNames(module, f));
                continue;
            }
            if (!checkpoint.Contains(spec.Name)) { problems.Add($"'{spec.Name}' {spec.Shape} is missing"); continue; }
            var info = checkpoint.Info(spec.Name);
            if (info.Shape != spec.Shape) problems.Add($"'{spec.Name}' in {Where(spec.Name)} is {info.Shape}, expected {spec.Shape}");
            else if (info.DType is not (DType.F32 or DType.BF16 or DType.F16)) problems.Add($"'{spec.Name}' in {Where(spec.Name)} is {info.DTypeName}, expected F32, BF16 or F16");
        }
        foreach (var name in checkpoint.TensorNames)
            if (!allowed.Contains(name) && !name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) && !(name == "lm_head.weight" && config.TieWordEmbeddings))
                problems.Add($"'{name}' in {Where(name)} is unexpected");
        if (quantized.Count == 0) problems.Add($"no projection is stored quantized although config.json has a quantization_config ({stored.Describe()})");
        if (problems.Count > 0)
            throw new InvalidDataException($"The quantized weights in '{checkpoint.Directory}' do not match its config ({config.DescribeShape()}): "
                + string.Join("; ", problems.Take(24)) + (problems.Count > 24 ? $"; and {problems.Count - 24} more" : "") + ".");
        return quantized;
    }
}
