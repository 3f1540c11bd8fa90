using PureLlama.Compute;
using PureLlama.Kernels.Blocks;
using PureLlama.IO;
using PureLlama.IO.Gguf;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tokenization;

namespace PureLlama.Llama;

/// <summary>
/// Builds a <see cref="LlamaModel"/> from a llama.cpp GGUF file: the config from <c>llama.*</c>
/// (<see cref="GgufLlamaConfig"/>), the tokenizer from <c>tokenizer.ggml.*</c> (<see cref="GgufTokenizer"/>), and the
/// weights under their Hugging Face names with q_proj/k_proj rows put back in Hugging Face order
/// (<see cref="GgufRopePermutation"/>). F32/BF16 weights are used as stored, F16 is widened to F32 (as from safetensors).
/// The tensor table is checked against the config first: every problem named in one message.
/// </summary>
internal static class GgufModelLoader
{
    /// <summary>The model, its config and tokenizer (null when the file has none) from <paramref name="path"/>.</summary>
    public static (LlamaModel Model, Llama3Tokenizer? Tokenizer) Load(string path, Device device, WeightLoading loading, QuantizationConfig? quantize)
    {
        using var file = GgufFile.Open(path, loading);
        var config = ReadConfig(file);
        var tokenizer = GgufTokenizer.Read(file.Header);
        return (Build(file, config, device, quantize), tokenizer);
    }

    /// <summary>The config, with rope_freqs.weight read when present.</summary>
    public static LlamaConfig ReadConfig(GgufFile file)
    {
        float[]? factors = null;
        if (file.Header.TryGetTensor("rope_freqs.weight", out var rf))
        {
            if (rf.Type != GgmlType.F32 || rf.Dims.Length != 1)
                throw new InvalidDataException($"GGUF file '{file.Path}': tensor 'rope_freqs.weight' is {rf.Describe()}; a 1-D F32 tensor was expected.");
            using var t = file.GetDense("rope_freqs.weight");
            factors = t.ToFloatArray();
        }
        return GgufLlamaConfig.Read(file.Header, factors);
    }

    /// <summary>
    /// Builds the model. Projections stored in a block format (Q8_0, Q4_0, Q4_K, Q6_K) stay in it
    /// (<see cref="GgmlBlockTensor"/> layers), and so does a block-format token_embd (on the CPU the embedding
    /// gather dequantizes only the rows it reads) and a tied lm_head over it; <paramref name="quantize"/> quantizes the other projections
    /// while loading (NF4/INT8), or null.
    /// </summary>
    public static LlamaModel Build(GgufFile file, LlamaConfig config, Device device, QuantizationConfig? quantize)
    {
        Validate(file, config);
        quantize?.Validate();
        return LlamaModel.Build(config, device, (name, shape) => ReadWeight(file, config, name, shape), Linear, Embedding);

        // A block-format token_embd on the CPU stays in its blocks: the gather dequantizes the rows it reads (no F32 copy
        // of the whole table: 1 GB for Llama 3.2 1B's, 2 GB for 8B's).
        Embedding? Embedding(Shape shape)
        {
            const string source = "model.embed_tokens.weight";
            var info = file.Header.Tensor(GgufTensorNames.ToGguf(source)!);
            if (device != Device.Cpu || !BlockFormats.IsBlockFormat(info.Type)) return null;
            return new Embedding(BlockTensor(file, config, source, info, shape, source, view: true));   // rows read on demand
        }

        ILinear? Linear(string module, Shape shape)
        {
            string source = module == "lm_head" && config.TieWordEmbeddings ? "model.embed_tokens.weight" : module + ".weight";
            var info = file.Header.Tensor(GgufTensorNames.ToGguf(source)!);
            if (BlockFormats.IsBlockFormat(info.Type))
            {
                // Blocks that feed only the tiles (CPU fast path) or an upload stay in the file: a view of the mapping whose
                // pages leave the resident set once read, faulted back in when the exact path, LoRA or export reads them.
                bool fromTiles = device == Device.Cpu && CpuBackend.MultipliesGgmlBlocksFromTiles(info.Type);
                var q = BlockTensor(file, config, source, info, shape, module + ".weight", view: fromTiles || device != Device.Cpu);
                QuantLinear layer;
                if (device == Device.Cpu)
                {
                    layer = new QuantLinear(q);
                    try { if (fromTiles) LlamaModel.Prepack(layer); }
                    catch { layer.Dispose(); throw; }
                }
                else using (q) layer = new QuantLinear(q.To(device));
                if (fromTiles || device != Device.Cpu || file.Loading == WeightLoading.Copied) file.DropResident(info);   // read into tiles, device memory or a copy
                return layer;
            }
            if (quantize is null || quantize.Skips(module)) return null;
            using var dense = ReadWeight(file, config, source, shape);
            return new QuantLinear(quantize.Quantize(dense, device));
        }
    }

    /// <summary>
    /// A weight in Hugging Face name and row-major layout: F32/BF16/F16 as stored (a view of the mapping when the
    /// file is mapped, else a copy), block formats dequantized to F32; q/k rows put back in Hugging Face order.
    /// </summary>
    public static Tensor ReadWeight(GgufFile file, LlamaConfig config, string hfName, Shape shape)
    {
        string name = GgufTensorNames.ToGguf(hfName) ?? throw new ArgumentException($"No GGUF name for '{hfName}'.", nameof(hfName));
        var info = file.Header.Tensor(name);
        using var bytes = StoredBytes(file, config, hfName, info);
        if (GgufFile.DenseDType(info.Type) is DType dtype)
            return new Tensor(bytes.Storage, shape, shape.ContiguousStrides(), bytes.Offset / dtype.SizeOf(), dtype) { Name = hfName };
        unsafe
        {
            var values = GgmlQuantizer.DequantizeRows(info.Type, new ReadOnlySpan<byte>(bytes.Pointer<byte>(), checked((int)info.ByteLength)), checked((int)info.RowLength));
            return Tensor.FromArray(values, shape).Named(hfName);
        }
    }

    // A block-format tensor over its stored bytes (which it then owns; a view of the mapping when asked, q/k rows aside).
    private static GgmlBlockTensor BlockTensor(GgufFile file, LlamaConfig config, string hfName, GgufTensorInfo info, Shape shape, string name, bool view = false)
    {
        var blocks = StoredBytes(file, config, hfName, info, view);
        try { return new GgmlBlockTensor(info.Type, shape, blocks) { Name = name }; }
        catch { blocks.Dispose(); throw; }
    }

    // The stored bytes as U8 [n]: q_proj/k_proj rows permuted back to Hugging Face order (a copy), others as GgufFile gives
    // them (view: always a view of the mapping).
    private static Tensor StoredBytes(GgufFile file, LlamaConfig config, string hfName, GgufTensorInfo info, bool view = false)
    {
        if (!GgufTensorNames.IsRopePermuted(hfName, out bool isKey)) return view ? file.GetRawView(info.Name) : file.GetRaw(info.Name);
        var storage = new NativeStorage(info.ByteLength, zero: false);
        var t = new Tensor(storage, new Shape(checked((int)info.ByteLength)), [1L], 0, DType.U8) { Name = info.Name };
        unsafe
        {
            GgufRopePermutation.FromGguf(file.Bytes(info), new Span<byte>(storage.Pointer, (int)info.ByteLength), checked((int)info.Rows),
                isKey ? config.NumKeyValueHeads : config.NumAttentionHeads);
        }
        return t;
    }

    /// <summary>Checks the tensor table against the config: every expected tensor present with its shape, nothing unexpected.</summary>
    public static void Validate(GgufFile file, LlamaConfig config)
    {
        var h = file.Header;
        var problems = new List<string>();
        var expected = new HashSet<string>(StringComparer.Ordinal) { "rope_freqs.weight" };
        foreach (var spec in config.ExpectedTensors())
        {
            string name = GgufTensorNames.ToGguf(spec.Name)!;
            expected.Add(name);
            if (!h.TryGetTensor(name, out var info)) { problems.Add($"'{name}' is missing"); continue; }
            var want = spec.Shape.ToArray().Reverse().Select(d => (long)d).ToArray();
            if (!info.Dims.SequenceEqual(want)) problems.Add($"'{name}' is {info.Describe()}, expected [{string.Join(", ", want)}]");
        }
        foreach (var t in h.Tensors)
            if (!expected.Contains(t.Name)) problems.Add($"'{t.Name}' is unexpected");
        if (problems.Count > 0)
            throw new InvalidDataException($"The tensors of GGUF file '{h.Path}' do not match its llama.* metadata ({config.DescribeShape()}): "
                + string.Join("; ", problems.Take(24)) + (problems.Count > 24 ? $"; and {problems.Count - 24} more" : "") + ".");
    }
}
