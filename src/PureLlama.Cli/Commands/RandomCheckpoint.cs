using System.Globalization;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Cli.Commands;

/// <summary>A Llama-3.2-1B-shaped checkpoint with random BF16 weights, for speed measurements only.</summary>
internal static class RandomCheckpoint
{
    public static LlamaConfig Config(int layers) => new()
    {
        VocabSize = 128256, HiddenSize = 2048, IntermediateSize = 8192, NumHiddenLayers = layers,
        NumAttentionHeads = 32, NumKeyValueHeads = 8, HeadDim = 64, RmsNormEps = 1e-5, RopeTheta = 500000,
        RopeScaling = new Kernels.Simd.Llama3RopeScaling(32, 1, 4, 8192), TieWordEmbeddings = true,
        MaxPositionEmbeddings = 131072, BosTokenId = 128000, EosTokenIds = [128001], TorchDtype = "bfloat16",
    };

    /// <summary>Writes config.json and model.safetensors into <paramref name="dir"/> unless a matching one is there.</summary>
    public static void EnsureWritten(string dir, int layers)
    {
        string configPath = Path.Combine(dir, "config.json"), weights = Path.Combine(dir, "model.safetensors");
        string json = ConfigJson(Config(layers));
        if (File.Exists(weights) && File.Exists(configPath) && File.ReadAllText(configPath) == json) return;
        Directory.CreateDirectory(dir);
        Console.Error.WriteLine($"writing a random BF16 checkpoint ({layers} layers) to {dir} …");
        var list = new List<(string, Tensor)>();
        try
        {
            ulong seed = 1;
            foreach (var spec in Config(layers).ExpectedTensors())
            {
                var t = Tensor.Empty(spec.Shape, DType.BF16);
                if (spec.Shape.Rank == 1) Fill(t, constant: 0x3F80); // norm weights = 1
                else FillRandom(t, seed++, spec.Shape[1]);
                list.Add((spec.Name, t));
            }
            SafeTensorsWriter.Write(weights, list, new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally { foreach (var (_, t) in list) t.Dispose(); }
        File.WriteAllText(configPath, json);
    }

    private static unsafe void Fill(Tensor t, ushort constant)
    {
        ushort* p = t.Pointer<ushort>();
        for (long i = 0; i < t.Numel; i++) p[i] = constant;
    }

    // U(−a, a) with a = √(3/fanIn) (unit-variance outputs), rounded to BF16; xorshift per block so it is parallel and repeatable.
    private static unsafe void FillRandom(Tensor t, ulong seed, int fanIn)
    {
        ushort* p = t.Pointer<ushort>();
        long n = t.Numel;
        float a = MathF.Sqrt(3f / fanIn);
        const long block = 1 << 20;
        Parallel.For(0, (n + block - 1) / block, b =>
        {
            ulong x = (seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)b + 1) * 0xBF58476D1CE4E5B9UL;
            long end = Math.Min(n, (b + 1) * block);
            for (long i = b * block; i < end; i++)
            {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                float u = (x >> 40) * (1f / (1 << 24)) * 2f - 1f;
                p[i] = (ushort)(BitConverter.SingleToUInt32Bits(u * a) >> 16);
            }
        });
    }

    private static string ConfigJson(LlamaConfig c) => string.Create(CultureInfo.InvariantCulture, $$"""
        {
          "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
          "vocab_size": {{c.VocabSize}}, "hidden_size": {{c.HiddenSize}}, "intermediate_size": {{c.IntermediateSize}},
          "num_hidden_layers": {{c.NumHiddenLayers}}, "num_attention_heads": {{c.NumAttentionHeads}}, "num_key_value_heads": {{c.NumKeyValueHeads}},
          "head_dim": {{c.HeadDim}}, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
          "rope_scaling": {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"},
          "tie_word_embeddings": true, "max_position_embeddings": 131072, "bos_token_id": 128000, "eos_token_id": 128001,
          "torch_dtype": "bfloat16", "attention_bias": false, "mlp_bias": false
        }
        """);
}
