using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using PureLlama.IO;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>What <see cref="CheckpointQuantizer.Quantize"/> wrote.</summary>
/// <param name="OutputDirectory">The new model folder.</param>
/// <param name="Config">The quantization applied.</param>
/// <param name="SourceWeightBytes">Bytes of the source weight files.</param>
/// <param name="OutputWeightBytes">Bytes of the written weight files.</param>
/// <param name="QuantizedWeights">Parameters stored quantized (the projections).</param>
/// <param name="QuantizedBytes">Bytes of their components.</param>
/// <param name="TotalParameters">All parameters of the model (quantized and dense).</param>
/// <param name="WeightFiles">The weight files written (one, or the shards).</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record QuantizeReport(string OutputDirectory, QuantizationConfig Config, long SourceWeightBytes, long OutputWeightBytes,
    long QuantizedWeights, long QuantizedBytes, long TotalParameters, IReadOnlyList<string> WeightFiles, TimeSpan Elapsed)
{
    /// <summary>Storage bits per quantized weight, every component included.</summary>
    public double BitsPerQuantizedWeight => QuantizedWeights == 0 ? 0 : 8.0 * QuantizedBytes / QuantizedWeights;

    /// <summary>Bits per parameter of the whole written model (dense embeddings and norms included).</summary>
    public double BitsPerParameter => 8.0 * OutputWeightBytes / TotalParameters;
}

/// <summary>
/// Quantizes a dense Llama model folder (F32/BF16/F16 safetensors) into a new folder that transformers
/// + bitsandbytes and PureLlama both load: the projections in NF4 or INT8 under bitsandbytes' names
/// (<see cref="BitsAndBytesFormat"/>), embeddings, norms and skipped modules (lm_head) as stored,
/// config.json with a <c>quantization_config</c>, tokenizer and generation_config files copied.
/// The source is memory-mapped and each weight is read alone, so memory holds the quantized model plus one dense weight.
/// </summary>
public static class CheckpointQuantizer
{
    /// <summary>Files copied unchanged from the source folder when present.</summary>
    public static readonly IReadOnlyList<string> CopiedFiles =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"];

    /// <summary>
    /// Writes the quantized copy of <paramref name="sourceDirectory"/> into <paramref name="outputDirectory"/>
    /// (created if needed; refused when it holds files unless <paramref name="force"/>).
    /// </summary>
    /// <exception cref="IOException">The output folder is not empty (without force) or is the source folder.</exception>
    /// <exception cref="InvalidDataException">The source is not a valid dense Llama checkpoint (already quantized, mismatched weights…).</exception>
    public static QuantizeReport Quantize(string sourceDirectory, string outputDirectory, QuantizationConfig config, bool force = false,
        long maxShardBytes = HfCheckpointWriter.DefaultMaxShardBytes, Action<string>? progress = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceDirectory);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (config.LmHeadFormat is { } head && head != config.Format)
            throw new ArgumentException($"A bitsandbytes checkpoint stores lm_head as {config.Format} or dense, not {head}; quantize the head to {head} when loading instead (--lm-head-format).", nameof(config));
        var clock = Stopwatch.StartNew();
        string outDir = Path.GetFullPath(outputDirectory);
        using var checkpoint = HfCheckpoint.Open(sourceDirectory, WeightLoading.Mapped);
        if (string.Equals(outDir.TrimEnd('/'), checkpoint.Directory.TrimEnd('/'), StringComparison.Ordinal))
            throw new IOException($"--out '{outDir}' is the source folder; write the quantized model to another folder.");
        if (QuantizationConfig.FromConfigFile(checkpoint.ConfigPath) is { } already)
            throw new InvalidDataException($"'{checkpoint.ConfigPath}' already has a quantization_config ({already.Describe()}): quantize the dense model instead.");
        var llama = LlamaConfig.FromFile(checkpoint.ConfigPath);
        llama.Validate(checkpoint);
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !force)
            throw new IOException($"Output folder '{outDir}' is not empty; pass --force to replace it.");

        var groups = new List<IReadOnlyList<(string Name, Tensor Tensor)>>();
        var quantized = new List<QuantizedTensor>();
        long qWeights = 0, qBytes = 0, total = 0;
        try
        {
            var specs = llama.ExpectedTensors();
            int done = 0, linears = specs.Count(IsLinear);
            foreach (var spec in specs)
            {
                total += spec.Shape.Numel;
                string module = spec.Name[..^".weight".Length];
                if (!IsLinear(spec) || config.Skips(module))
                {
                    groups.Add([(spec.Name, checkpoint.GetTensor(spec.Name))]); // a mapped view, written as stored
                    continue;
                }
                QuantizedTensor q;
                DType dtype;
                using (var dense = checkpoint.ReadCopy(spec.Name, spec.Shape))
                {
                    dtype = dense.DType;
                    q = config.Quantize(dense);
                }
                quantized.Add(q);
                qWeights += q.Shape.Numel;
                qBytes += q.ByteLength;
                groups.Add(BitsAndBytesFormat.Serialize(module, q, dtype));
                progress?.Invoke($"quantized {++done}/{linears} {q.Describe()}");
            }
            // The whole folder is written aside and swapped in: a failure anywhere leaves the previous one intact.
            var written = AtomicFolder.Write(outDir, temp =>
            {
                var weights = HfCheckpointWriter.WriteWeights(temp, groups, maxShardBytes);
                WriteConfig(checkpoint.ConfigPath, Path.Combine(temp, "config.json"), config);
                foreach (var name in CopiedFiles)
                {
                    string src = Path.Combine(checkpoint.Directory, name);
                    if (File.Exists(src)) AtomicFile.Copy(src, Path.Combine(temp, name));
                }
                return weights.Select(f => Path.GetFileName(f)).ToList();
            }, carryOver: name => !HfCheckpointWriter.IsWeightFile(name)); // --force keeps the user's other files
            var files = written.Select(f => Path.Combine(outDir, f)).ToList();
            long sourceBytes = checkpoint.Files.Sum(f => FileSizes.Of(f.Path));
            long outBytes = files.Sum(f => new FileInfo(f).Length);
            return new QuantizeReport(outDir, config, sourceBytes, outBytes, qWeights, qBytes, total, files, clock.Elapsed);
        }
        finally
        {
            foreach (var g in groups) foreach (var (_, t) in g) t.Dispose();
            foreach (var q in quantized) q.Dispose();
        }
    }

    // The projections and an untied lm_head: rank-2 weights other than the embedding table.
    private static bool IsLinear(TensorSpec spec) => spec.Shape.Rank == 2 && spec.Name != "model.embed_tokens.weight";

    // The source config.json with quantization_config added (every other field kept as written).
    private static void WriteConfig(string sourceConfig, string path, QuantizationConfig config)
    {
        var obj = StrictJson.ReadObject(sourceConfig);
        obj[QuantizationConfig.FieldName] = config.ToJson();
        AtomicFile.Write(path, s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
            obj.WriteTo(w);
        });
    }
}
