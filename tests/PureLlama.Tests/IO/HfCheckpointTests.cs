using System.Text.Json;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO;

/// <summary>Model folders: sharded indexes, and weights that contradict their config.</summary>
public class HfCheckpointTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string TinyConfig = """
        {"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":32,"hidden_size":16,"intermediate_size":24,
         "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"rms_norm_eps":1e-5,"rope_theta":500000.0,
         "tie_word_embeddings":false,"bos_token_id":1,"eos_token_id":[2,3],"torch_dtype":"float32"}
        """;

    /// <summary>Writes a random checkpoint for <paramref name="configJson"/> into a new folder, letting <paramref name="edit"/> change the tensor list.</summary>
    private string MakeCheckpoint(string name, string configJson, Action<List<(string Name, Tensor Tensor)>>? edit = null, string? writeConfig = null)
    {
        string dir = _dir.File(name);
        Directory.CreateDirectory(dir);
        var config = LlamaConfig.Parse(configJson);
        var rng = new Rng(7);
        var tensors = config.ExpectedTensors().Select(s => (s.Name, Tensor.RandN(s.Shape, rng, 0.1f))).ToList();
        edit?.Invoke(tensors);
        try
        {
            SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), writeConfig ?? configJson);
        return dir;
    }

    [Fact]
    public void A_generated_checkpoint_validates_and_exposes_optional_files()
    {
        string dir = MakeCheckpoint("ok", TinyConfig);
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"do_sample":true,"temperature":0.6,"top_p":0.9,"eos_token_id":[2,3]}""");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{}");
        using var ckpt = HfCheckpoint.Open(dir);
        var config = LlamaConfig.FromCheckpoint(ckpt);
        config.EosTokenIds.Should().Equal(2, 3);
        ckpt.TokenizerPath.Should().Be(Path.Combine(ckpt.Directory, "tokenizer.json"));
        ckpt.TokenizerConfigPath.Should().BeNull();
        ckpt.IndexPath.Should().BeNull();
        var gen = GenerationConfig.FromCheckpoint(ckpt);
        gen.DoSample.Should().BeTrue();
        gen.Temperature.Should().Be(0.6);
        gen.EosTokenIds.Should().Equal(2, 3);
    }

    [Fact]
    public void Fixture_two_shard_copy_of_the_tiny_model_loads_like_the_original()
    {
        string? src = Fixtures.Get("llama3-tiny/f32", output);
        if (src is null) return;
        string dir = _dir.File("sharded");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(src, "config.json"), Path.Combine(dir, "config.json"));
        var weightMap = new Dictionary<string, string>();
        using (var original = HfCheckpoint.Open(src))
        {
            var names = original.TensorNames;
            var shards = new[] { names.Take(names.Count / 2).ToList(), names.Skip(names.Count / 2).ToList() };
            for (int s = 0; s < 2; s++)
            {
                string file = $"model-0000{s + 1}-of-00002.safetensors";
                var tensors = shards[s].Select(n => (n, original.GetTensor(n))).ToList();
                SafeTensorsWriter.Write(Path.Combine(dir, file), tensors, new Dictionary<string, string> { ["format"] = "pt" });
                foreach (var (n, t) in tensors) { weightMap[n] = file; t.Dispose(); }
            }
        }
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.IndexFileName),
            JsonSerializer.Serialize(new { metadata = new { total_size = 1 }, weight_map = weightMap }));

        var config = LlamaConfig.FromFile(Path.Combine(dir, "config.json"));
        foreach (var loading in new[] { WeightLoading.Copied, WeightLoading.Mapped })
        {
            using var sharded = HfCheckpoint.Open(dir, loading);
            using var original = HfCheckpoint.Open(src, loading);
            sharded.Files.Should().HaveCount(2);
            sharded.IndexPath.Should().NotBeNull();
            config.Validate(sharded);
            sharded.TensorNames.Should().Equal(original.TensorNames);
            foreach (var name in original.TensorNames)
            {
                using var a = sharded.GetTensor(name);
                using var b = original.GetTensor(name);
                a.ToArray<float>().Should().Equal(b.ToArray<float>(), name);
            }
        }

        // The index must agree with the shards.
        var broken = new Dictionary<string, string>(weightMap) { ["model.norm.weight"] = "model-00001-of-00002.safetensors" };
        string shardOfNorm = weightMap["model.norm.weight"];
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.IndexFileName), JsonSerializer.Serialize(new { weight_map = broken }));
        if (shardOfNorm != "model-00001-of-00002.safetensors")
        {
            var act = () => HfCheckpoint.Open(dir);
            act.Should().Throw<InvalidDataException>().WithMessage("*'model.norm.weight'*" + shardOfNorm + "*");
        }
        var extra = new Dictionary<string, string>(weightMap) { ["model.extra.weight"] = "model-00001-of-00002.safetensors" };
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.IndexFileName), JsonSerializer.Serialize(new { weight_map = extra }));
        ((Action)(() => HfCheckpoint.Open(dir))).Should().Throw<InvalidDataException>().WithMessage("*'model.extra.weight'*model-00001-of-00002.safetensors*");
        var absent = new Dictionary<string, string>(weightMap) { ["model.extra.weight"] = "model-00003-of-00003.safetensors" };
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.IndexFileName), JsonSerializer.Serialize(new { weight_map = absent }));
        ((Action)(() => HfCheckpoint.Open(dir))).Should().Throw<FileNotFoundException>().WithMessage("*model-00003-of-00003.safetensors*");
        var escape = new Dictionary<string, string>(weightMap) { ["model.extra.weight"] = "../x.safetensors" };
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.IndexFileName), JsonSerializer.Serialize(new { weight_map = escape }));
        ((Action)(() => HfCheckpoint.Open(dir))).Should().Throw<InvalidDataException>().WithMessage("*../x.safetensors*plain file name*");
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.IndexFileName), "{\"weight_map\": [");
        ((Action)(() => HfCheckpoint.Open(dir))).Should().Throw<InvalidDataException>().WithMessage("*" + HfCheckpoint.IndexFileName + "*JSON*");
    }

    private static InvalidDataException ValidationError(string dir, string? configJson = null)
    {
        using var ckpt = HfCheckpoint.Open(dir);
        var config = configJson is null ? LlamaConfig.FromFile(ckpt.ConfigPath) : LlamaConfig.Parse(configJson);
        var act = () => config.Validate(ckpt);
        return act.Should().Throw<InvalidDataException>().Which;
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        string dir = MakeCheckpoint("missing", TinyConfig, l => l.RemoveAll(e => e.Name == "model.layers.1.mlp.up_proj.weight"));
        ValidationError(dir).Message.Should().Contain("1 missing").And.Contain("'model.layers.1.mlp.up_proj.weight' [24, 16]").And.Contain(dir);
    }

    [Fact]
    public void Unexpected_tensor_is_named_with_its_file()
    {
        string dir = MakeCheckpoint("unexpected", TinyConfig, l => l.Add(("model.layers.0.self_attn.q_proj.bias", Tensor.Zeros(new Shape(16)))));
        ValidationError(dir).Message.Should().Contain("1 unexpected").And.Contain("'model.layers.0.self_attn.q_proj.bias' [16] in model.safetensors");
    }

    [Fact]
    public void Wrong_shaped_tensor_is_named_with_both_shapes()
    {
        string dir = MakeCheckpoint("misshaped", TinyConfig, l =>
        {
            int i = l.FindIndex(e => e.Name == "model.layers.0.self_attn.k_proj.weight");
            l[i].Tensor.Dispose();
            l[i] = (l[i].Name, Tensor.Zeros(new Shape(16, 16)));
        });
        ValidationError(dir).Message.Should().Contain("'model.layers.0.self_attn.k_proj.weight' in model.safetensors is [16, 16], expected [8, 16]");
        using var ckpt = HfCheckpoint.Open(dir);
        var act = () => ckpt.GetTensor("model.layers.0.self_attn.k_proj.weight", new Shape(8, 16));
        act.Should().Throw<InvalidDataException>().WithMessage("*'model.layers.0.self_attn.k_proj.weight'*model.safetensors*[16, 16]*[8, 16]*");
        var dtype = () => ckpt.GetTensor("model.norm.weight", new Shape(16), DType.BF16);
        dtype.Should().Throw<InvalidDataException>().WithMessage("*'model.norm.weight'*F32*BF16*");
        var missing = () => ckpt.GetTensor("model.layers.9.mlp.up_proj.weight", new Shape(24, 16));
        missing.Should().Throw<InvalidDataException>().WithMessage("*no tensor 'model.layers.9.mlp.up_proj.weight'*");
    }

    [Fact]
    public void Config_that_contradicts_the_weights_reports_every_problem_at_once()
    {
        string dir = MakeCheckpoint("contradict", TinyConfig);
        // The config claims 3 layers, 2 more vocabulary rows and tied embeddings.
        string lying = TinyConfig.Replace("\"num_hidden_layers\":2", "\"num_hidden_layers\":3")
                                 .Replace("\"vocab_size\":32", "\"vocab_size\":34")
                                 .Replace("\"tie_word_embeddings\":false", "\"tie_word_embeddings\":true");
        var e = ValidationError(dir, lying);
        e.Message.Should().Contain("mis-shaped").And.Contain("'model.embed_tokens.weight' in model.safetensors is [32, 16], expected [34, 16]");
        e.Message.Should().Contain("9 missing").And.Contain("'model.layers.2.input_layernorm.weight'");
        e.Message.Should().Contain("1 unexpected").And.Contain("'lm_head.weight' [32, 16]");
    }

    [Fact]
    public void Tied_checkpoint_needs_no_lm_head()
    {
        string tied = TinyConfig.Replace("\"tie_word_embeddings\":false", "\"tie_word_embeddings\":true");
        string dir = MakeCheckpoint("tied", tied);
        using var ckpt = HfCheckpoint.Open(dir);
        ckpt.Contains("lm_head.weight").Should().BeFalse();
        LlamaConfig.FromFile(ckpt.ConfigPath).Validate(ckpt);
    }

    [Fact]
    public void Folder_without_weights_or_config_is_file_not_found()
    {
        string dir = _dir.File("empty");
        Directory.CreateDirectory(dir);
        ((Action)(() => HfCheckpoint.Open(dir))).Should().Throw<FileNotFoundException>().WithMessage("*config.json*");
        File.WriteAllText(Path.Combine(dir, "config.json"), TinyConfig);
        ((Action)(() => HfCheckpoint.Open(dir))).Should().Throw<FileNotFoundException>().WithMessage("*model.safetensors*");
        File.WriteAllText(Path.Combine(dir, "pytorch_model.bin"), "");
        ((Action)(() => HfCheckpoint.Open(dir))).Should().Throw<FileNotFoundException>().WithMessage("*pytorch_model.bin*convert*");
        ((Action)(() => HfCheckpoint.Open(_dir.File("nowhere")))).Should().Throw<DirectoryNotFoundException>();
    }

    [Fact]
    public void Truncated_weights_in_a_folder_name_the_file()
    {
        string dir = MakeCheckpoint("trunc", TinyConfig);
        string weights = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..^100]);
        var act = () => HfCheckpoint.Open(dir, WeightLoading.Mapped);
        act.Should().Throw<InvalidDataException>().WithMessage("*model.safetensors*truncated*");
    }
}
