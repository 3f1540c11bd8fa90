using System.Text.Json;
using System.Text.Json.Nodes;
using PureLlama.IO;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Llama;

/// <summary>What <see cref="Int4Checkpoint.Write"/> wrote.</summary>
/// <param name="OutputDirectory">The model folder.</param>
/// <param name="WeightFiles">The safetensors files (one, or the shards).</param>
/// <param name="OutputWeightBytes">Bytes of the weight files.</param>
/// <param name="QuantizedWeights">Weights stored as 4-bit codes.</param>
/// <param name="QuantizedBytes">Bytes of their components (codes, zeros, scales, g_idx).</param>
/// <param name="TotalParameters">All parameters (quantized and dense).</param>
public sealed record Int4WriteReport(string OutputDirectory, IReadOnlyList<string> WeightFiles, long OutputWeightBytes, long QuantizedWeights, long QuantizedBytes, long TotalParameters)
{
    /// <summary>Storage bits per quantized weight, components included.</summary>
    public double BitsPerQuantizedWeight => QuantizedWeights == 0 ? 0 : 8.0 * QuantizedBytes / QuantizedWeights;
}

/// <summary>
/// GPTQ (AutoGPTQ / GPTQModel) and AWQ (AutoAWQ GEMM) model folders. Per quantized projection <c>{module}</c>:
/// GPTQ stores <c>.qweight</c> I32 [in/8, out] (input 8p+k in bits 4k…4k+3), <c>.qzeros</c> I32 [groups, out/8]
/// (output 8j+k in bits 4k…; z − 1 per nibble when checkpoint_format is "gptq"), <c>.scales</c> F16 [groups, out],
/// <c>.g_idx</c> I32 [in]; AWQ stores <c>.qweight</c> I32 [in, out/8] and <c>.qzeros</c> I32 [in/group, out/8]
/// with nibble k of a word holding column 8j + [0,2,4,6,1,3,5,7][k], and <c>.scales</c> F16 [in/group, out].
/// Embeddings, norms and lm_head stay dense. config.json carries the <see cref="Int4CheckpointConfig"/>.
/// Both load as <see cref="QuantLinear"/> over <see cref="Int4GroupTensor"/> (AWQ repacked to the GPTQ order).
/// </summary>
public static class Int4Checkpoint
{
    private static readonly DType[] s_dense = [DType.F32, DType.BF16, DType.F16];

    /// <summary>
    /// Writes <paramref name="model"/> (projections as <see cref="QuantLinear"/> over <see cref="Int4GroupTensor"/>, others dense)
    /// into <paramref name="outputDirectory"/>; config.json is <paramref name="sourceDirectory"/>'s with the quantization_config
    /// added, and its tokenizer and generation files are copied.
    /// </summary>
    public static Int4WriteReport Write(LlamaModel model, string sourceDirectory, string outputDirectory, Int4CheckpointConfig config,
        bool force = false, long maxShardBytes = HfCheckpointWriter.DefaultMaxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        string outDir = Path.GetFullPath(outputDirectory);
        string sourceConfig = Path.Combine(sourceDirectory, "config.json");
        if (!File.Exists(sourceConfig)) throw new FileNotFoundException($"'{sourceConfig}' does not exist (the source model's config is copied).", sourceConfig);
        if (string.Equals(outDir.TrimEnd('/'), Path.GetFullPath(sourceDirectory).TrimEnd('/'), StringComparison.Ordinal))
            throw new IOException($"--out '{outDir}' is the source folder; write the quantized model to another folder.");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !force)
            throw new IOException($"Output folder '{outDir}' is not empty; pass --force to replace it.");

        // AutoGPTQ's v1 qzeros hold z − 1 per nibble: a zero point of 0 would be read back as 16 there, so a model that has
        // one is written in the v2 form (true zeros, checkpoint_format "gptq_v2") instead of silently losing it.
        if (!config.IsAwq && config.CheckpointFormat == "gptq" && HasZeroPointOfZero(model)) config = config with { CheckpointFormat = "gptq_v2" };

        var owned = new List<Tensor>();
        Tensor Host(Tensor t)
        {
            if (t.Device.Kind == DeviceKind.Cpu) return t;
            var h = t.To(Device.Cpu);
            owned.Add(h);
            return h;
        }
        Tensor New(Tensor t) { owned.Add(t); return t; }
        try
        {
            var dense = model.NamedDenseTensors().ToDictionary(x => x.Name, x => x.Tensor);
            var linears = model.NamedLinears().ToDictionary(x => x.Name, x => x.Linear);
            var groups = new List<IReadOnlyList<(string Name, Tensor Tensor)>>();
            long qWeights = 0, qBytes = 0, total = 0;
            foreach (var spec in model.Config.ExpectedTensors())
            {
                total += spec.Shape.Numel;
                string module = spec.Name[..^".weight".Length];
                if (dense.TryGetValue(spec.Name, out var t)) { groups.Add([(spec.Name, Host(t))]); continue; }
                var linear = linears[module];
                if (linear is Linear d) { groups.Add([(spec.Name, Host(d.Weight))]); continue; }
                if (linear is not QuantLinear { Weight: Int4GroupTensor w })
                    throw new InvalidOperationException($"'{module}' is a {linear.GetType().Name}; GPTQ/AWQ folders hold dense or 4-bit group layers.");
                if (config.IsAwq && w.GroupSize > 0 && !GroupQuantized.FromTensor(w).IsSequential)
                    throw new InvalidOperationException($"'{module}' uses act-order; AWQ's layout cannot hold it.");
                qWeights += w.Shape.Numel;
                qBytes += w.ByteLength;
                groups.Add(config.IsAwq ? AwqComponents(module, w, New) : GptqComponents(module, w, config, Host, New));
            }
            var configJson = WithQuantization(sourceConfig, config);
            // The whole folder is written aside and swapped in: a failure anywhere leaves the previous one intact.
            var written = AtomicFolder.Write(outDir, temp =>
            {
                var weights = HfCheckpointWriter.WriteWeights(temp, groups, maxShardBytes);
                WriteJson(Path.Combine(temp, "config.json"), configJson);
                var (sideName, side) = config.SideFile();
                WriteJson(Path.Combine(temp, sideName), side);
                foreach (var name in CheckpointQuantizer.CopiedFiles)
                {
                    string src = Path.Combine(sourceDirectory, name);
                    if (File.Exists(src)) AtomicFile.Copy(src, Path.Combine(temp, name));
                }
                return weights.Select(f => Path.GetFileName(f)).ToList();
            }, carryOver: name => !HfCheckpointWriter.IsWeightFile(name)); // --force keeps the user's other files
            var files = written.Select(f => Path.Combine(outDir, f)).ToList();
            return new Int4WriteReport(outDir, files, files.Sum(f => new FileInfo(f).Length), qWeights, qBytes, total);
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    // True when some 4-bit group layer stores a zero point of 0 (any nibble of its qzeros).
    private static bool HasZeroPointOfZero(LlamaModel model)
    {
        foreach (var (_, linear) in model.NamedLinears())
        {
            if (linear is not QuantLinear { Weight: Int4GroupTensor w }) continue;
            foreach (int word in w.QZeros.ToArray<int>())
                for (int k = 0; k < 8; k++)
                    if (((word >>> (4 * k)) & 0xF) == 0) return true;
        }
        return false;
    }

    private static List<(string, Tensor)> GptqComponents(string module, Int4GroupTensor w, Int4CheckpointConfig config, Func<Tensor, Tensor> host, Func<Tensor, Tensor> fresh)
    {
        var zeros = w.QZeros.ToArray<int>();
        if (config.CheckpointFormat == "gptq") zeros = Int4Packing.ZerosToV1(zeros);
        return
        [
            (module + ".qweight", host(w.QWeight)),
            (module + ".qzeros", fresh(Tensor.FromArray(zeros, w.QZeros.Shape))),
            (module + ".scales", host(w.Scales)),
            (module + ".g_idx", host(w.GIdx)),
        ];
    }

    private static List<(string, Tensor)> AwqComponents(string module, Int4GroupTensor w, Func<Tensor, Tensor> fresh)
    {
        var (qweight, qzeros) = Int4Packing.ToAwq(GroupQuantized.FromTensor(w));
        return
        [
            (module + ".qweight", fresh(Tensor.FromArray(qweight, new Shape(w.Columns, w.Rows / 8)))),
            (module + ".qzeros", fresh(Tensor.FromArray(qzeros, new Shape(w.Groups, w.Rows / 8)))),
            (module + ".scales", fresh(Tensor.FromSpan<ushort>(w.Scales.ToArray<ushort>(), w.Scales.Shape, DType.F16))),
        ];
    }

    /// <summary>Builds the model from a GPTQ or AWQ folder: quantized projections as <see cref="QuantLinear"/>, the rest as stored.</summary>
    /// <exception cref="InvalidDataException">A component is missing, mis-typed or mis-shaped, or a tensor is unexpected (named with its file).</exception>
    public static LlamaModel Load(HfCheckpoint checkpoint, LlamaConfig config, Device device, Int4CheckpointConfig quant) =>
        Load(checkpoint, config, device, quant, head: null);

    /// <summary>
    /// As <see cref="Load(HfCheckpoint, LlamaConfig, Device, Int4CheckpointConfig)"/>, with the dense lm_head (the
    /// embedding table when tied) quantized on load by <paramref name="head"/> when given: the head is half of a 1B
    /// INT4 model's decode reads in BF16, so this is what makes its decode cheap (llama.cpp quantizes its head too).
    /// </summary>
    internal static LlamaModel Load(HfCheckpoint checkpoint, LlamaConfig config, Device device, Int4CheckpointConfig quant, QuantizationConfig? head)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(quant);
        config.CheckConsistency(checkpoint.ConfigPath);
        Validate(checkpoint, config, quant);
        head?.Validate();
        return LlamaModel.Build(config, device, (name, shape) => checkpoint.GetTensor(name, shape, s_dense), (module, shape) =>
        {
            if (checkpoint.Contains(module + ".qweight"))
                return module == "lm_head" && head is not null
                    ? throw new InvalidDataException($"'{checkpoint.Directory}' stores lm_head quantized ({quant.Describe()}); --quantize-lm-head / --lm-head-format cannot re-quantize it (leave them out to use the stored head).")
                    : new QuantLinear(ReadNamed(checkpoint, module, shape, quant, device));
            if (module != "lm_head" || head is null) return null;
            return LlamaModel.QuantizeDenseHead(checkpoint, config, shape, head, device);
        });
    }

    // A component that disagrees with the config may be wrong in either file: name the folder and the config with it.
    private static Int4GroupTensor ReadNamed(HfCheckpoint checkpoint, string module, Shape expected, Int4CheckpointConfig quant, Device device)
    {
        try { return ReadModule(checkpoint, module, expected, quant, device); }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{e.Message} (checkpoint '{checkpoint.Directory}', config '{checkpoint.ConfigPath}': {quant.Describe()})", e);
        }
    }

    private static void Validate(HfCheckpoint checkpoint, LlamaConfig config, Int4CheckpointConfig quant)
    {
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        int quantized = 0;
        foreach (var spec in config.ExpectedTensors())
        {
            string module = spec.Name[..^".weight".Length];
            if (spec.Shape.Rank == 2 && checkpoint.Contains(module + ".qweight"))
            {
                quantized++;
                foreach (var c in quant.IsAwq ? new[] { "qweight", "qzeros", "scales" } : ["qweight", "qzeros", "scales", "g_idx"])
                {
                    allowed.Add($"{module}.{c}");
                    if (!checkpoint.Contains($"{module}.{c}") && c != "g_idx") problems.Add($"'{module}.{c}' is missing");
                }
                continue;
            }
            allowed.Add(spec.Name);
            if (!checkpoint.Contains(spec.Name)) problems.Add($"'{spec.Name}' {spec.Shape} is missing");
        }
        foreach (var name in checkpoint.TensorNames)
            if (!allowed.Contains(name) && !name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) && !(name == "lm_head.weight" && config.TieWordEmbeddings))
                problems.Add($"'{name}' in {Path.GetFileName(checkpoint.FileOf(name).Path)} is unexpected");
        if (quantized == 0) problems.Add($"no projection has a .qweight although config.json says {quant.Describe()}");
        if (problems.Count > 0)
            throw new InvalidDataException($"The {quant.Method.ToUpperInvariant()} weights in '{checkpoint.Directory}' do not match its config ({config.DescribeShape()}): "
                + string.Join("; ", problems.Take(24)) + (problems.Count > 24 ? $"; and {problems.Count - 24} more" : "") + ".");
    }

    // One projection's components → Int4GroupTensor on device. expected: [out, in].
    private static Int4GroupTensor ReadModule(HfCheckpoint checkpoint, string module, Shape expected, Int4CheckpointConfig quant, Device device)
    {
        int rows = expected[0], cols = expected[1];
        if (rows % 8 != 0 || cols % 8 != 0) throw new InvalidDataException($"'{module}' is {expected}; 4-bit packing needs both dimensions to be multiples of 8.");
        T[] Read<T>(string c, DType dtype, int r, int k) where T : unmanaged
        {
            string name = $"{module}.{c}";
            var info = checkpoint.Info(name);
            if (info.DType != dtype || info.Shape != new Shape(r, k))
                throw new InvalidDataException($"'{name}' in {Path.GetFileName(checkpoint.FileOf(name).Path)} is {info.DTypeName} {info.Shape}; expected {dtype} [{r}, {k}] for a {expected} weight.");
            using var t = checkpoint.GetTensor(name);
            return t.ToArray<T>();
        }
        int groups = checkpoint.Info(module + ".scales").Shape is { Rank: 2 } s ? s[0] : throw new InvalidDataException($"'{module}.scales' must be [groups, {rows}].");
        var scales = Read<ushort>("scales", DType.F16, groups, rows);
        int badScale = FiniteValues.FirstNonFiniteHalf(scales);
        if (badScale >= 0)
            throw new InvalidDataException($"'{module}.scales' in {Path.GetFileName(checkpoint.FileOf(module + ".scales").Path)} holds {(float)BitConverter.UInt16BitsToHalf(scales[badScale])} at [{badScale / rows}, {badScale % rows}]; scales must be finite.");
        if (quant.IsAwq)
        {
            int need = (cols + quant.GroupSize - 1) / quant.GroupSize;
            if (groups != need) throw new InvalidDataException($"'{module}.scales' has {groups} groups; in = {cols} with group_size {quant.GroupSize} needs {need}.");
            return Int4Packing.FromAwq(Read<int>("qweight", DType.I32, cols, rows / 8), Read<int>("qzeros", DType.I32, groups, rows / 8), scales, rows, cols, quant.GroupSize, device);
        }
        var qweight = Read<int>("qweight", DType.I32, cols / 8, rows);
        var qzeros = Read<int>("qzeros", DType.I32, groups, rows / 8);
        if (quant.CheckpointFormat == "gptq") qzeros = Int4Packing.ZerosFromV1(qzeros);
        int[] gIdx;
        if (checkpoint.Contains(module + ".g_idx"))
        {
            var info = checkpoint.Info(module + ".g_idx");
            if (info.DType != DType.I32 || info.Shape != new Shape(cols)) throw new InvalidDataException($"'{module}.g_idx' is {info.DTypeName} {info.Shape}; expected I32 [{cols}].");
            using var t = checkpoint.GetTensor(module + ".g_idx");
            gIdx = t.ToArray<int>();
        }
        else gIdx = Enumerable.Range(0, cols).Select(i => quant.GroupSize < 0 ? 0 : i / quant.GroupSize).ToArray();
        for (int i = 0; i < cols; i++)
            if ((uint)gIdx[i] >= (uint)groups) throw new InvalidDataException($"'{module}.g_idx'[{i}] = {gIdx[i]} is outside the {groups} groups of '{module}.scales'.");
        return new Int4GroupTensor(expected, quant.GroupSize, groups, quant.Sym,
            Tensor.FromArray(qweight, new Shape(cols / 8, rows), device), Tensor.FromArray(qzeros, new Shape(groups, rows / 8), device),
            Tensor.FromSpan<ushort>(scales, new Shape(groups, rows), DType.F16, device), Tensor.FromArray(gIdx, new Shape(cols), device));
    }

    private static JsonObject WithQuantization(string sourceConfig, Int4CheckpointConfig config)
    {
        var obj = StrictJson.ReadObject(sourceConfig);
        if (obj.ContainsKey("quantization_config")) throw new InvalidDataException($"'{sourceConfig}' already has a quantization_config: quantize the dense model.");
        obj["quantization_config"] = config.ToJson();
        return obj;
    }

    private static void WriteJson(string path, JsonObject obj) => AtomicFile.Write(path, s =>
    {
        using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
        obj.WriteTo(w);
    });
}
