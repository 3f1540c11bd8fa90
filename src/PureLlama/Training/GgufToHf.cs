using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PureLlama.IO;
using PureLlama.IO.Gguf;
using PureLlama.Tensors;
using PureLlama.Llama;

namespace PureLlama.Training;

/// <summary>
/// A llama.cpp GGUF file rewritten as a Hugging Face model folder: model.safetensors (every weight under its Hugging
/// Face name, q_proj/k_proj rows back in Hugging Face order, block formats dequantized, in BF16 or F32), config.json
/// from the <c>llama.*</c> keys (llama3 rope_scaling recovered from rope_freqs.weight), tokenizer.json and
/// tokenizer_config.json (with the chat template) from <c>tokenizer.ggml.*</c>, generation_config.json with the
/// bos/eos ids. Written atomically as a whole: a failure leaves an existing folder as it was.
/// </summary>
internal static class GgufToHf
{
    /// <summary>Converts <paramref name="ggufPath"/> into the folder <paramref name="outDir"/> with weights in <paramref name="dtype"/> (F32 or BF16).</summary>
    public static void Convert(string ggufPath, string outDir, DType dtype)
    {
        using var file = GgufFile.Open(ggufPath, WeightLoading.Mapped);
        var config = GgufModelLoader.ReadConfig(file);
        var tokenizer = GgufTokenizer.HfJson(file.Header);
        var tokens = GgufTokenizer.Read(file.Header);   // the tokenizer is checked before anything is written
        config = config with { EosTokenIds = EndTokens(file.Header, config, tokens) };
        var scaling = config.RopeFrequencyFactors is { } factors ? GgufRopeScaling.Recover(factors, config.RopeTheta, config.HeadDim, file.Path) : null;
        using var model = GgufModelLoader.Build(file, config, Device.Cpu, quantize: null);
        AtomicFolder.Write<object?>(outDir, temp =>
        {
            LoraMerge.WriteWeights(model, Path.Combine(temp, HfCheckpoint.SingleFileName), dtype, dropTiedHead: true);
            WriteJson(Path.Combine(temp, "config.json"), ConfigJson(config, scaling, dtype));
            WriteJson(Path.Combine(temp, "generation_config.json"), GenerationJson(config));
            if (tokenizer is var (tokenizerJson, tokenizerConfig))
            {
                AtomicFile.Write(Path.Combine(temp, "tokenizer.json"), s => s.Write(tokenizerJson));
                AtomicFile.Write(Path.Combine(temp, "tokenizer_config.json"), s => s.Write(tokenizerConfig));
            }
            return null;
        }, carryOver: name => !HfCheckpointWriter.IsWeightFile(name) && name is not ("tokenizer.json" or "tokenizer_config.json"));
    }

    /// <summary>
    /// The ids that end generation: tokenizer.ggml.eos_token_id, eot_token_id and eom_token_id, and the special tokens
    /// &lt;|eot_id|&gt; and &lt;|eom_id|&gt; (which llama.cpp also stops at); Llama 3's config.json lists them as eos_token_id.
    /// </summary>
    private static int[] EndTokens(GgufHeader h, LlamaConfig config, Tokenization.Llama3Tokenizer? tokenizer)
    {
        var ids = new List<int>(config.EosTokenIds);
        foreach (var key in new[] { "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" })
            if (h.OptionalInteger(key, 0, config.VocabSize - 1) is long id) ids.Add((int)id);
        if (tokenizer is not null)
            ids.AddRange(tokenizer.AddedTokens.Where(t => t.Special && t.Content is ("<|eot_id|>" or "<|eom_id|>")).Select(t => t.Id));
        return [.. ids.Distinct()];
    }

    /// <summary>config.json of a Llama model (transformers' LlamaConfig fields).</summary>
    internal static JsonObject ConfigJson(LlamaConfig c, Kernels.Simd.Llama3RopeScaling? scaling, DType dtype)
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads,
            ["num_key_value_heads"] = c.NumKeyValueHeads,
            ["head_dim"] = c.HeadDim,
            ["hidden_act"] = "silu",
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["rms_norm_eps"] = Shortest(c.RmsNormEps),
            ["rope_theta"] = Shortest(c.RopeTheta),
            ["rope_scaling"] = scaling is null ? null : new JsonObject
            {
                ["rope_type"] = "llama3",
                ["factor"] = scaling.Factor,
                ["low_freq_factor"] = scaling.LowFreqFactor,
                ["high_freq_factor"] = scaling.HighFreqFactor,
                ["original_max_position_embeddings"] = scaling.OriginalMaxPositionEmbeddings,
            },
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["attention_bias"] = false,
            ["mlp_bias"] = false,
            ["torch_dtype"] = dtype == DType.BF16 ? "bfloat16" : "float32",
        };
        if (c.BosTokenId is int bos) o["bos_token_id"] = bos;
        if (c.EosTokenIds.Count > 0) o["eos_token_id"] = EosNode(c);
        return o;
    }

    private static JsonObject GenerationJson(LlamaConfig c)
    {
        var o = new JsonObject();
        if (c.BosTokenId is int bos) o["bos_token_id"] = bos;
        if (c.EosTokenIds.Count > 0) o["eos_token_id"] = EosNode(c);
        return o;
    }

    private static JsonNode EosNode(LlamaConfig c) => c.EosTokenIds.Count == 1 ? JsonValue.Create(c.EosTokenIds[0]) : new JsonArray([.. c.EosTokenIds.Select(e => (JsonNode?)e)]);

    // GGUF stores these as F32: written as the shortest decimal of that float (1e-05, not 9.999999747378752E-06).
    private static double Shortest(double v) => double.Parse(((float)v).ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static void WriteJson(string path, JsonObject o) =>
        AtomicFile.Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }))));
}
