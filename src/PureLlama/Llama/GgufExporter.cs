using System.Globalization;
using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.IO.Gguf;
using PureLlama.Kernels.Blocks;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tokenization;

namespace PureLlama.Llama;

/// <summary>
/// Writes a loaded Llama model as a GGUF file llama.cpp runs, the way convert_hf_to_gguf (+ llama-quantize) would:
/// tensors in the order of their sorted Hugging Face names under GGUF names, q/k rows in llama.cpp's RoPE pair order,
/// norms in F32, matrices in the types <see cref="GgufQuantMix"/> chooses, llama3 RoPE scaling as rope_freqs.weight,
/// the metadata keys in the converter's order, the tokenizer and chat template embedded. Quantized projections
/// (NF4, INT8, GPTQ/AWQ, ggml blocks) are dequantized first. The file is written atomically.
/// </summary>
public static class GgufExporter
{
    /// <summary>
    /// Loads <paramref name="modelPath"/> (a model folder of any format PureLlama reads, or a .gguf file) on the CPU and
    /// exports it to <paramref name="outPath"/>; general.name is <paramref name="name"/>, else the source's general.name or the folder's name.
    /// </summary>
    public static string Export(string modelPath, GgufExportType type, string outPath, string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        if (Path.GetFullPath(outPath) == Path.GetFullPath(modelPath)) throw new ArgumentException($"The output '{outPath}' must differ from the model '{modelPath}'.");
        if (name is null && File.Exists(modelPath) && GgufFile.IsGguf(modelPath)) name = GgufHeaderReader.Read(modelPath).OptionalString("general.name");
        name ??= Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelPath)));
        using var runtime = LlamaRuntime.Load(modelPath, Device.Cpu, IO.WeightLoading.Mapped);
        var tokenizer = runtime.Tokenizer ?? throw new InvalidDataException($"'{modelPath}' has no tokenizer; a GGUF file for llama.cpp needs one (add tokenizer.json).");
        return Export(runtime.Model, tokenizer, type, outPath, name);
    }

    /// <summary>Exports <paramref name="model"/> with <paramref name="tokenizer"/> to <paramref name="path"/>; returns a one-line summary.</summary>
    /// <param name="model">The model (any device; projections dense or quantized, not wrapped by LoRA).</param>
    /// <param name="tokenizer">Its tokenizer: llama.cpp needs one in the file.</param>
    /// <param name="type">The tensor types.</param>
    /// <param name="path">The .gguf file to write.</param>
    /// <param name="name">general.name.</param>
    public static string Export(LlamaModel model, Llama3Tokenizer tokenizer, GgufExportType type, string path, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var config = model.Config;
        var weights = Weights(model);
        var writer = new GgufWriter();
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        if (RopeFactors(config) is { } factors)
        {
            writer.AddTensor("rope_freqs.weight", GgmlType.F32, [factors.Length], () => GgmlQuantizer.QuantizeRows(GgmlType.F32, factors, factors.Length));
            counts["F32"] = 1;
        }
        long parameters = 0;
        foreach (var (hfName, source) in weights.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            string gguf = GgufTensorNames.ToGguf(hfName)!;
            var shape = source.Shape;
            long[] dims = shape.Rank == 1 ? [shape[0]] : [shape[1], shape[0]];
            var ggml = GgufQuantMix.Choose(type, gguf, dims, config.NumHiddenLayers, config.TieWordEmbeddings);
            parameters += shape.Numel;
            counts[GgmlTypes.Name(ggml)] = counts.GetValueOrDefault(GgmlTypes.Name(ggml)) + 1;
            writer.AddTensor(gguf, ggml, dims, () => Encode(source, hfName, ggml, config));
        }
        AddMetadata(writer, config, tokenizer, type, name, parameters);
        writer.WriteFile(path);
        return $"{counts.Values.Sum()} tensors ({string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}"))}), "
             + $"{SizeLabel(parameters)} parameters, {new FileInfo(path).Length:N0} bytes";
    }

    /// <summary>The values the model computes with, under Hugging Face names: a tensor, or a quantized tensor to dequantize.</summary>
    private static Dictionary<string, WeightSource> Weights(LlamaModel model)
    {
        var map = new Dictionary<string, WeightSource>(StringComparer.Ordinal)
        {
            ["model.embed_tokens.weight"] = new(model.EmbedTokens.Table, null),
            ["model.norm.weight"] = new(model.Norm.Weight, null),
        };
        foreach (var l in model.Layers)
        {
            map[$"model.layers.{l.Index}.input_layernorm.weight"] = new(l.InputNorm.Weight, null);
            map[$"model.layers.{l.Index}.post_attention_layernorm.weight"] = new(l.PostAttentionNorm.Weight, null);
        }
        foreach (var (module, linear) in model.NamedLinears())
        {
            if (module == "lm_head" && model.Config.TieWordEmbeddings) continue;
            map[module + ".weight"] = linear switch
            {
                Linear dense => new(dense.Weight, null),
                QuantLinear q => new(null, q.Weight),
                _ => throw new InvalidOperationException($"Layer '{module}' is a {linear.GetType().Name}; merge the adapter first (purellama merge) or export it with --adapter."),
            };
        }
        return map;
    }

    private sealed record WeightSource(Tensor? Dense, QuantizedTensor? Quantized)
    {
        public Shape Shape => Dense?.Shape ?? Quantized!.Shape;

        public float[] Values()
        {
            using var _ = GradMode.NoGrad();
            if (Dense is not null) return Dense.ToFloatArray();
            var q = Quantized!;
            using var f32 = Tensor.Empty(q.Shape, DType.F32, q.Device);
            Backends.Get(q.Device).Dequantize(q, f32);
            return f32.ToFloatArray();
        }
    }

    // The bytes GGUF stores: values in the chosen type, q/k rows in llama.cpp's pair order.
    private static byte[] Encode(WeightSource source, string hfName, GgmlType type, LlamaConfig config)
    {
        var values = source.Values();
        var shape = source.Shape;
        int rowLength = shape.Rank == 1 ? shape[0] : shape[1];
        var bytes = GgmlQuantizer.QuantizeRows(type, values, rowLength);
        if (!GgufTensorNames.IsRopePermuted(hfName, out bool isKey)) return bytes;
        var permuted = new byte[bytes.Length];
        GgufRopePermutation.ToGguf(bytes, permuted, shape[0], isKey ? config.NumKeyValueHeads : config.NumAttentionHeads);
        return permuted;
    }

    /// <summary>rope_freqs values: the GGUF's own, or llama3 scaling's per-frequency divisors (as convert_hf_to_gguf computes them).</summary>
    private static float[]? RopeFactors(LlamaConfig config)
    {
        if (config.RopeFrequencyFactors is { } ff) return [.. ff];
        return config.RopeScaling is { } s ? Llama3RopeFactors(s, config.RopeTheta, config.HeadDim) : null;
    }

    /// <summary>llama3 scaling's per-frequency divisors, as convert_hf_to_gguf computes them for rope_freqs.weight.</summary>
    internal static float[] Llama3RopeFactors(Kernels.Simd.Llama3RopeScaling s, double ropeTheta, int headDim)
    {
        var factors = new float[headDim / 2];
        for (int i = 0; i < factors.Length; i++)
        {
            float freq = 1f / MathF.Pow((float)ropeTheta, 2f * i / headDim);
            double wavelen = 2 * Math.PI / freq;
            double low = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor, high = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
            if (wavelen < high) factors[i] = 1f;
            else if (wavelen > low) factors[i] = (float)s.Factor;
            else
            {
                double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                factors[i] = (float)(1 / ((1 - smooth) / s.Factor + smooth));
            }
        }
        return factors;
    }

    private static void AddMetadata(GgufWriter w, LlamaConfig c, Llama3Tokenizer tokenizer, GgufExportType type, string name, long parameters)
    {
        static GgufValue U32(int v) => GgufValue.OfUInt32((uint)v);
        w.Add("general.architecture", GgufValue.Of("llama"));
        w.Add("general.type", GgufValue.Of("model"));
        w.Add("general.name", GgufValue.Of(name));
        w.Add("general.size_label", GgufValue.Of(SizeLabel(parameters)));
        w.Add("llama.block_count", U32(c.NumHiddenLayers));
        w.Add("llama.context_length", U32(c.MaxPositionEmbeddings));
        w.Add("llama.embedding_length", U32(c.HiddenSize));
        w.Add("llama.feed_forward_length", U32(c.IntermediateSize));
        w.Add("llama.attention.head_count", U32(c.NumAttentionHeads));
        w.Add("llama.attention.head_count_kv", U32(c.NumKeyValueHeads));
        w.Add("llama.rope.freq_base", GgufValue.OfFloat32((float)c.RopeTheta));
        w.Add("llama.attention.layer_norm_rms_epsilon", GgufValue.OfFloat32((float)c.RmsNormEps));
        w.Add("llama.attention.key_length", U32(c.HeadDim));
        w.Add("llama.attention.value_length", U32(c.HeadDim));
        w.Add("general.file_type", GgufValue.OfUInt32(GgufQuantMix.FileType(type)));
        w.Add("llama.vocab_size", U32(c.VocabSize));
        w.Add("llama.rope.dimension_count", U32(c.HeadDim));
        w.Add("general.quantization_version", U32(2));
        foreach (var (key, value) in GgufTokenizer.Write(tokenizer, c.VocabSize)) w.Add(key, value);
    }

    /// <summary>gguf-py's size label: "3.8M", "853K", "8.0B" (at least two significant digits).</summary>
    internal static string SizeLabel(long parameters)
    {
        var (scaled, suffix) = parameters switch
        {
            > 1_000_000_000_000 => (parameters * 1e-12, "T"),
            > 1_000_000_000 => (parameters * 1e-9, "B"),
            > 1_000_000 => (parameters * 1e-6, "M"),
            _ => (parameters * 1e-3, "K"),
        };
        int digits = Math.Round(scaled, MidpointRounding.ToEven).ToString("0", CultureInfo.InvariantCulture).TrimStart('0').Length;
        return scaled.ToString("F" + Math.Max(2 - digits, 0), CultureInfo.InvariantCulture) + suffix;
    }
}
