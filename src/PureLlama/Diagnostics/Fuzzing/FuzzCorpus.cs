using System.Text;
using System.Text.Json;
using PureLlama.Calibration;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tokenization;
using PureLlama.Training;

namespace PureLlama.Diagnostics.Fuzzing;

/// <summary>
/// The valid seed files every fuzz target starts from, written by PureLlama's own writers into one folder:
/// a tiny dense model (config, generation config, tokenizer, weights), its NF4, INT8, GPTQ and AWQ copies,
/// F16 and Q8_0 GGUF exports, a LoRA adapter, an SFT JSONL file and a training checkpoint (trainer_state.json, optimizer state).
/// </summary>
internal sealed class FuzzCorpus
{
    private FuzzCorpus(string root) => Root = root;

    /// <summary>The folder holding everything.</summary>
    public string Root { get; }
    public string Dense => Path.Combine(Root, "dense");
    public string Nf4 => Path.Combine(Root, "nf4");
    public string Int8 => Path.Combine(Root, "int8");
    public string Gptq => Path.Combine(Root, "gptq");
    public string Awq => Path.Combine(Root, "awq");
    public string Adapter => Path.Combine(Root, "adapter");
    public string Sft => Path.Combine(Root, "train.jsonl");
    public string Checkpoint => Path.Combine(Root, "checkpoint");
    public string Gguf => Path.Combine(Root, "gguf");

    /// <summary>The tiny architecture: vocab 320, hidden 64, 2 layers, 4 heads / 2 KV heads of 16, MLP 128.</summary>
    public static LlamaConfig TinyConfig => new()
    {
        VocabSize = 320, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 16, RmsNormEps = 1e-5, RopeTheta = 500000, MaxPositionEmbeddings = 128, BosTokenId = 300, EosTokenIds = [301],
        TorchDtype = "float32", RopeScaling = new Kernels.Simd.Llama3RopeScaling(8, 1, 4, 64),
    };

    /// <summary>Writes the corpus into <paramref name="root"/> (created; must be empty or absent).</summary>
    public static FuzzCorpus Create(string root)
    {
        Directory.CreateDirectory(root);
        var c = new FuzzCorpus(root);
        Directory.CreateDirectory(c.Dense);
        File.WriteAllText(Path.Combine(c.Dense, "config.json"), ConfigJson(TinyConfig));
        File.WriteAllText(Path.Combine(c.Dense, "generation_config.json"),
            """{"bos_token_id": 300, "eos_token_id": [301, 302], "do_sample": true, "temperature": 0.6, "top_p": 0.9, "max_new_tokens": 16}""");
        File.WriteAllText(Path.Combine(c.Dense, "tokenizer.json"), TokenizerJson());
        File.WriteAllText(Path.Combine(c.Dense, "tokenizer_config.json"),
            """{"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"}, "chat_template": "{{ bos_token }}"}""");
        using (var model = LlamaModel.CreateRandom(TinyConfig, Device.Cpu, 11, 0.05f))
        {
            LoraMerge.WriteWeights(model, Path.Combine(c.Dense, HfCheckpoint.SingleFileName), DType.F32);
            using (var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 4, TargetModules = ["q_proj", "v_proj"] }, 3))
            {
                adapter.Save(c.Adapter);
                WriteCheckpoint(adapter, c.Checkpoint);
            }
            LayerwiseQuantizer.Quantize(model, [], new LayerwiseOptions(GroupMethod.Rtn, new GroupQuantOptions(4, 32, false)));
            Int4Checkpoint.Write(model, c.Dense, c.Gptq, new Int4CheckpointConfig { Method = "gptq", GroupSize = 32 });
            Int4Checkpoint.Write(model, c.Dense, c.Awq, new Int4CheckpointConfig { Method = "awq", GroupSize = 32 });
        }
        Directory.CreateDirectory(c.Gguf);
        GgufExporter.Export(c.Dense, GgufExportType.F16, Path.Combine(c.Gguf, "model-f16.gguf"), "tiny");
        GgufExporter.Export(c.Dense, GgufExportType.Q8_0, Path.Combine(c.Gguf, "model-q8_0.gguf"), "tiny");
        CheckpointQuantizer.Quantize(c.Dense, c.Nf4, new QuantizationConfig { Format = QuantFormat.Nf4 });
        CheckpointQuantizer.Quantize(c.Dense, c.Int8, new QuantizationConfig { Format = QuantFormat.Int8 });
        File.WriteAllText(c.Sft, string.Join('\n',
            """{"instruction": "Name a colour.", "input": "", "output": "Blue."}""",
            """{"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}""",
            """{"text": "In the beginning was the word."}""") + "\n");
        return c;
    }

    // One optimizer step so that the state holds non-trivial moments, then the files a Trainer checkpoint holds.
    private static void WriteCheckpoint(LoraAdapter adapter, string dir)
    {
        Directory.CreateDirectory(dir);
        var optimizer = new AdamWOptimizer(adapter.Parameters);
        foreach (var p in adapter.Parameters)
        {
            var g = new float[p.Value.Numel];
            for (int i = 0; i < g.Length; i++) g[i] = (i % 7 - 3) * 0.01f;
            p.Value.Grad = Tensor.FromArray(g, p.Value.Shape);
        }
        optimizer.Step(1e-3f);
        optimizer.ZeroGrad();
        optimizer.SaveState(Path.Combine(dir, "optimizer.safetensors"));
        var state = new TrainerState { Step = 1, TotalSteps = 4, RowsPerEpoch = 3, DataCursor = "0:1", Tokens = 17, WeightsRandomState = "5" };
        state.LogHistory.Add(new StepLog(1, 0.33, 5.7, 1e-3, 0.4, false, 17));
        state.EvalHistory.Add(new EvalLog(0, 5.8));
        File.WriteAllText(Path.Combine(dir, "trainer_state.json"), state.ToJson());
    }

    /// <summary>config.json of a Llama config, as transformers writes it.</summary>
    public static string ConfigJson(LlamaConfig c)
    {
        var fields = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama", ["hidden_act"] = "silu",
            ["vocab_size"] = c.VocabSize, ["hidden_size"] = c.HiddenSize, ["intermediate_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumHiddenLayers, ["num_attention_heads"] = c.NumAttentionHeads, ["num_key_value_heads"] = c.NumKeyValueHeads,
            ["head_dim"] = c.HeadDim, ["rms_norm_eps"] = c.RmsNormEps, ["rope_theta"] = c.RopeTheta,
            ["rope_scaling"] = c.RopeScaling is { } rs ? new Dictionary<string, object>
            {
                ["rope_type"] = "llama3", ["factor"] = rs.Factor, ["low_freq_factor"] = rs.LowFreqFactor, ["high_freq_factor"] = rs.HighFreqFactor,
                ["original_max_position_embeddings"] = rs.OriginalMaxPositionEmbeddings,
            } : null,
            ["tie_word_embeddings"] = c.TieWordEmbeddings, ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["bos_token_id"] = c.BosTokenId, ["eos_token_id"] = c.EosTokenIds, ["torch_dtype"] = c.TorchDtype,
            ["attention_bias"] = false, ["mlp_bias"] = false,
        };
        return JsonSerializer.Serialize(fields, new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>A byte-level BPE tokenizer.json: the 256 byte tokens, a few merges, Llama 3's split and special tokens.</summary>
    public static string TokenizerJson()
    {
        var vocab = new List<string>();
        for (int b = 0; b < 256; b++) vocab.Add(ByteLevel.ByteToChar((byte)b).ToString());
        string[][] merges = [["h", "e"], ["he", "l"], ["l", "o"], ["hel", "lo"], ["Ġ", "w"], ["o", "r"], ["Ġw", "or"], ["Ġwor", "d"]];
        foreach (var m in merges) vocab.Add(m[0] + m[1]);
        var raw = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }; // raw UTF-8, as Hugging Face writes
        string J(string s) => JsonSerializer.Serialize(s, raw);
        var sb = new StringBuilder();
        sb.Append("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[");
        string[] special = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"];
        sb.AppendJoin(",", special.Select((s, i) => $"{{\"id\":{300 + i},\"content\":{J(s)},\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}}"));
        sb.Append("],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":")
          .Append(J(Llama3PreTokenizer.Pattern))
          .Append("},\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]},");
        sb.Append("\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"ignore_merges\":true,\"vocab\":{");
        sb.AppendJoin(",", vocab.Select((t, i) => $"{J(t)}:{i}"));
        sb.Append("},\"merges\":[");
        sb.AppendJoin(",", merges.Select(m => $"[{J(m[0])},{J(m[1])}]"));
        sb.Append("]}}");
        return sb.ToString();
    }
}
