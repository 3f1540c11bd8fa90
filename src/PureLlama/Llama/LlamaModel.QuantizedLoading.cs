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
    /// <param name="quantize">Quantize a dense checkpoint on load. For a checkpoint stored quantized: an error for another format; otherwise its projections load as stored and, when it includes lm_head, the dense head (the embedding table when tied) is quantized on load to its lm_head format (a head stored quantized in another format is an error). Null: load as stored.</param>
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
            var head = StoredHeadQuantization(checkpoint, stored, formats.ContainsKey("lm_head"), quantize);
            var storedModel = Build(config, device, Kept, (module, shape) =>
                module == "lm_head" && head is not null ? QuantizeDenseHead(checkpoint, config, shape, head, device)
                : formats.ContainsKey(module) ? new QuantLinear(OnDevice(BitsAndBytesFormat.Read(checkpoint, module, shape), device)) : null);
            if (head is not null) ReleaseStaging();
            return storedModel;
        }
        quantize!.Validate();
        config.Validate(checkpoint);
        var model = Build(config, device, Kept, (module, shape) =>
        {
            if (quantize.Skips(module)) return null;
            if (module == "lm_head") return QuantizeDenseHead(checkpoint, config, shape, quantize, device);
            using var dense = checkpoint.ReadCopy(module + ".weight", shape, s_denseTypes);
            return new QuantLinear(quantize.Quantize(dense, device));
        });
        ReleaseStaging();
        return model;
    }

    // The quantizer's F32 staging arrays (4 bytes per weight of the largest matrix) are large-object
    // garbage after a quantization on load: return their pages to the OS instead of keeping them in the process peak.
    private static void ReleaseStaging() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>lm_head (the embedding table when tied) read dense and quantized by <paramref name="head"/>'s <see cref="QuantizationConfig.QuantizeLmHead"/>.</summary>
    internal static QuantLinear QuantizeDenseHead(HfCheckpoint checkpoint, LlamaConfig config, Shape shape, QuantizationConfig head, Device device)
    {
        using var dense = checkpoint.ReadCopy(config.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", shape, s_denseTypes);
        return new QuantLinear(head.QuantizeLmHead(dense, device));
    }

    /// <summary>
    /// What the lm_head options of <paramref name="quantize"/> (--quantize-lm-head, --lm-head-format) do to a bitsandbytes
    /// checkpoint: null where the head loads as stored (no option, or a head stored quantized in the format asked for);
    /// else the stored format's config (its block size and double quantization) with the head's format, to quantize the
    /// dense head (or tied embedding table) on load. A head stored quantized in another format is refused.
    /// </summary>
    private static QuantizationConfig? StoredHeadQuantization(HfCheckpoint checkpoint, QuantizationConfig stored, bool headStoredQuantized, QuantizationConfig? quantize)
    {
        if (quantize is null || quantize.Skips("lm_head")) return null;
        var format = quantize.LmHeadFormat ?? stored.Format;
        if (headStoredQuantized)
            return format == stored.Format ? null
                : throw new InvalidDataException($"'{checkpoint.Directory}' stores lm_head quantized as {stored.Format}; --lm-head-format {format} cannot re-quantize it (quantize the dense model with --quantize and --lm-head-format instead).");
        return stored with { SkipModules = [], LmHeadFormat = format };
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
