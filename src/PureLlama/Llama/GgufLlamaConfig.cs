using PureLlama.IO.Gguf;

namespace PureLlama.Llama;

/// <summary>
/// The Llama architecture of a GGUF file, from its <c>llama.*</c> keys (as convert_hf_to_gguf writes them) and
/// its tensor table: tied embeddings when there is no <c>output.weight</c>, llama3 RoPE scaling from
/// <c>rope_freqs.weight</c>. Every problem names the file and the key.
/// </summary>
internal static class GgufLlamaConfig
{
    /// <summary>Reads the config; <paramref name="ropeFactors"/> are the rope_freqs values when the file has them.</summary>
    public static LlamaConfig Read(GgufHeader h, IReadOnlyList<float>? ropeFactors)
    {
        string arch = h.RequiredString("general.architecture");
        if (arch != "llama")
            throw h.Error("general.architecture", $"is '{arch}'; PureLlama reads Llama models ('llama').");
        const string a = "llama.";
        int Int(string key, long? fallback = null) =>
            (int)(h.OptionalInteger(a + key, 1, int.MaxValue) ?? fallback ?? throw h.Error(a + key, "is missing."));
        int hidden = Int("embedding_length");
        int heads = Int("attention.head_count");
        int kvHeads = Int("attention.head_count_kv", heads);
        if (hidden % heads != 0 && !h.Contains(a + "attention.key_length"))
            throw h.Error(a + "attention.head_count", $"is {heads}, which does not divide embedding_length {hidden} (and no attention.key_length is given).");
        int headDim = Int("attention.key_length", hidden / heads);
        int valueDim = Int("attention.value_length", headDim);
        if (valueDim != headDim) throw h.Error(a + "attention.value_length", $"is {valueDim}; PureLlama needs it equal to attention.key_length ({headDim}).");
        int ropeDims = Int("rope.dimension_count", headDim);
        if (ropeDims != headDim) throw h.Error(a + "rope.dimension_count", $"is {ropeDims}; PureLlama rotates whole heads ({headDim}).");
        if (h.OptionalString(a + "rope.scaling.type") is { } scaling && scaling != "none")
            throw h.Error(a + "rope.scaling.type", $"is '{scaling}'; PureLlama supports llama3 scaling (rope_freqs.weight) and none.");
        if (h.OptionalInteger(a + "expert_count") is > 0)
            throw h.Error(a + "expert_count", "is set: a mixture-of-experts model, which PureLlama does not run.");
        var embd = h.Tensor("token_embd.weight");
        if (embd.Dims.Length != 2 || embd.Dims[0] != hidden)
            throw new InvalidDataException($"GGUF file '{h.Path}': tensor 'token_embd.weight' is {embd.Describe()}; [{hidden}, vocab] was expected.");
        int vocab = Int("vocab_size", embd.Dims[1]);
        if (vocab != embd.Dims[1])
            throw h.Error(a + "vocab_size", $"is {vocab}, but token_embd.weight has {embd.Dims[1]} rows.");
        double eps = h.OptionalNumber(a + "attention.layer_norm_rms_epsilon") ?? throw h.Error(a + "attention.layer_norm_rms_epsilon", "is missing.");
        if (!(eps > 0 && eps < 1)) throw h.Error(a + "attention.layer_norm_rms_epsilon", $"is {eps}; it must be in (0, 1).");
        double theta = h.OptionalNumber(a + "rope.freq_base") ?? 10000.0;
        if (!(theta > 0)) throw h.Error(a + "rope.freq_base", $"is {theta}; it must be positive.");
        int? bos = (int?)h.OptionalInteger("tokenizer.ggml.bos_token_id", 0, vocab - 1);
        int? eos = (int?)h.OptionalInteger("tokenizer.ggml.eos_token_id", 0, vocab - 1);
        var config = new LlamaConfig
        {
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = Int("feed_forward_length"),
            NumHiddenLayers = Int("block_count"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = (float)eps,
            RopeTheta = (float)theta,
            RopeFrequencyFactors = ropeFactors,
            TieWordEmbeddings = !h.TryGetTensor("output.weight", out _),
            MaxPositionEmbeddings = Int("context_length", 2048),
            BosTokenId = bos,
            EosTokenIds = eos is int e ? [e] : [],
        };
        config.CheckConsistency(h.Path);
        return config;
    }
}
