using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using PureLlama.Diagnostics.Fuzzing;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tokenization;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Tests.Reliability;

/// <summary>One valid corpus (tiny model, quantized copies, adapter, checkpoint) shared by the hostile-input tests.</summary>
public sealed class CorpusFixture : IDisposable
{
    public CorpusFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "purellama-hostile-" + Guid.NewGuid().ToString("N"));
        Corpus = FuzzCorpus.Create(Path.Combine(Root, "seed"));
    }

    public string Root { get; }
    internal FuzzCorpus Corpus { get; }

    /// <summary>A fresh copy of a corpus folder or file to damage.</summary>
    public string CopyOf(string path)
    {
        string dest = Path.Combine(Root, Guid.NewGuid().ToString("N")[..8] + "-" + Path.GetFileName(path));
        if (File.Exists(path)) File.Copy(path, dest);
        else
        {
            Directory.CreateDirectory(dest);
            foreach (var f in Directory.GetFiles(path)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
        }
        return dest;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>
/// Regression tests for every failure issue 17 lists: each hostile input now gives one clear
/// <see cref="InvalidDataException"/> naming the file and the field or tensor (or is bounded / refused).
/// </summary>
public sealed class HostileInputTests(CorpusFixture fx) : IClassFixture<CorpusFixture>
{
    private const string LoneSurrogate = "\\ud800";

    private static void Edit(string path, Func<string, string> edit) => File.WriteAllText(path, edit(File.ReadAllText(path)));

    private static void ShouldNameFile(Action act, string path, params string[] parts)
    {
        var e = act.Should().Throw<InvalidDataException>().Which;
        e.Message.Should().Contain(path);
        foreach (var p in parts) e.Message.Should().Contain(p);
    }

    [Fact]
    public void Lone_surrogate_in_config_json_names_the_file_and_path()
    {
        string dir = fx.CopyOf(fx.Corpus.Dense);
        string config = Path.Combine(dir, "config.json");
        Edit(config, s => s.Replace("\"silu\"", $"\"si{LoneSurrogate}lu\""));
        ShouldNameFile(() => LlamaConfig.FromFile(config), config, "$.hidden_act");
        ShouldNameFile(() => QuantizationConfig.FromConfigFile(config), config, "$.hidden_act");
        ShouldNameFile(() => Int4CheckpointConfig.FromConfigFile(config), config);
    }

    [Fact]
    public void Lone_surrogate_in_a_safetensors_header_names_the_file()
    {
        using var dir = new IO.TempDir();
        string path = dir.RawSafeTensors("s.safetensors", "{\"a" + LoneSurrogate + "\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        ShouldNameFile(() => SafeTensorsFile.Open(path).Dispose(), path, "property name");
        string meta = dir.RawSafeTensors("m.safetensors", "{\"__metadata__\":{\"format\":\"p" + LoneSurrogate + "\"},\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4);
        ShouldNameFile(() => SafeTensorsFile.Open(meta).Dispose(), meta, "$.__metadata__.format");
    }

    [Fact]
    public void Lone_surrogate_and_invalid_utf8_in_tokenizer_files_name_the_file()
    {
        string dir = fx.CopyOf(fx.Corpus.Dense);
        string tok = Path.Combine(dir, "tokenizer.json");
        string original = File.ReadAllText(tok);
        File.WriteAllText(tok, original.Replace("\"<|eot_id|>\"", $"\"<|eot{LoneSurrogate}|>\"", StringComparison.Ordinal));
        ShouldNameFile(() => Llama3Tokenizer.Load(dir), tok, "added_tokens[2].content");

        var bytes = Encoding.UTF8.GetBytes(original.Replace("<|eot_id|>", "<|eot_i\u00e9>", StringComparison.Ordinal));
        int e = Array.IndexOf(bytes, (byte)0xC3);
        bytes[e + 1] = 0x28; // C3 28: an invalid two-byte sequence
        File.WriteAllBytes(tok, bytes);
        ShouldNameFile(() => Llama3Tokenizer.Load(dir), tok, "UTF-8");

        File.WriteAllText(tok, original);
        string cfg = Path.Combine(dir, "tokenizer_config.json");
        Edit(cfg, s => s.Replace("<|begin_of_text|>", "<|begin" + LoneSurrogate + "|>", StringComparison.Ordinal));
        ShouldNameFile(() => Llama3Tokenizer.Load(dir), cfg, "$.bos_token");
    }

    [Fact]
    public void Lone_surrogate_line_in_sft_jsonl_is_an_invalid_line_that_skipping_skips()
    {
        var tok = Llama3Tokenizer.Load(fx.Corpus.Dense);
        string path = fx.CopyOf(fx.Corpus.Sft);
        File.AppendAllText(path, $"{{\"text\": \"bad {LoneSurrogate}\"}}\n");
        File.AppendAllBytes(path, [.. "{\"text\": \"bad "u8, 0xFF, .. "\"}\n"u8]);
        ShouldNameFile(() => SftDataset.Load(path, tok), path, ":4:");
        var ds = SftDataset.Load(path, tok, new SftDatasetOptions { SkipInvalidLines = true });
        ds.Summary.Skipped.Should().Be(2);
        ds.Examples.Should().HaveCount(3);
        ds.Summary.Problems.Should().Contain(p => p.Contains(":5:") && p.Contains("UTF-8"));
    }

    [Fact]
    public void Non_string_target_module_is_named()
    {
        string dir = fx.CopyOf(fx.Corpus.Adapter);
        string cfg = Path.Combine(dir, LoraAdapter.ConfigFileName);
        var root = JsonNode.Parse(File.ReadAllText(cfg))!.AsObject();
        root["target_modules"] = new JsonArray(1, "q_proj");
        File.WriteAllText(cfg, root.ToJsonString());
        using var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 1);
        ShouldNameFile(() => LoraAdapter.Load(model, dir), cfg, "target_modules[0]");
    }

    [Theory]
    [InlineData(DType.U8)]
    [InlineData(DType.I8)]
    [InlineData(DType.I32)]
    public void Adapter_tensor_of_an_integer_dtype_is_named(DType dtype)
    {
        string dir = fx.CopyOf(fx.Corpus.Adapter);
        string weights = Path.Combine(dir, LoraAdapter.WeightsFileName);
        string victim = RewriteTensors(weights, (name, t) => name.Contains("lora_A") ? Tensor.Zeros(t.Shape, dtype) : null);
        using var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 1);
        ShouldNameFile(() => LoraAdapter.Load(model, dir), weights, victim, "F32, BF16 or F16");
    }

    [Fact]
    public void NaN_adapter_weight_is_refused_at_load()
    {
        string dir = fx.CopyOf(fx.Corpus.Adapter);
        string weights = Path.Combine(dir, LoraAdapter.WeightsFileName);
        string victim = RewriteTensors(weights, (name, t) =>
        {
            if (!name.Contains("lora_B")) return null;
            var v = new float[t.Numel];
            v[3] = float.NaN;
            return Tensor.FromArray(v, t.Shape);
        });
        using var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 1);
        ShouldNameFile(() => LoraAdapter.Load(model, dir), weights, victim, "NaN", "index 3");
    }

    [Fact]
    public void String_in_nf4_quant_state_shape_is_named()
    {
        string dir = fx.CopyOf(fx.Corpus.Nf4);
        string weights = Path.Combine(dir, "model.safetensors");
        string module = "model.layers.0.self_attn.q_proj";
        var list = new List<(string, Tensor)>();
        using (var f = SafeTensorsFile.Open(weights))
            foreach (var info in f.Tensors)
            {
                var t = f.GetTensor(info.Name);
                if (info.Name == module + BitsAndBytesFormat.Nf4StateSuffix)
                {
                    string json = Encoding.UTF8.GetString(t.ToArray<byte>()).Replace("[64, 64]", "[\"64\", 64]", StringComparison.Ordinal);
                    json.Should().Contain("\"64\"");
                    t.Dispose();
                    var b = Encoding.UTF8.GetBytes(json);
                    t = Tensor.FromArray(b, new Shape(b.Length));
                }
                list.Add((info.Name, t));
            }
        SafeTensorsWriter.Write(weights, list);
        foreach (var (_, t) in list) t.Dispose();
        ShouldNameFile(() => LlamaRuntime.Load(dir, Device.Cpu).Dispose(), weights, module, "shape");
    }

    [Theory]
    [InlineData("log_history", "[null]", "log_history[0]")]
    [InlineData("eval_history", "null", "eval_history")]
    [InlineData("data_cursor", "null", "data_cursor")]
    [InlineData("data_cursor", "\"x:1\"", "data_cursor")]
    [InlineData("step", "-3", "step")]
    public void Null_or_wrong_trainer_state_fields_are_named(string field, string value, string named)
    {
        string path = fx.CopyOf(Path.Combine(fx.Corpus.Checkpoint, "trainer_state.json"));
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        root[field] = JsonNode.Parse(value);
        File.WriteAllText(path, root.ToJsonString());
        ShouldNameFile(() => TrainerState.Load(path), path, named);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(OptimizerStateFile.MaxStep + 1)]
    public void Optimizer_step_count_beyond_the_limit_is_refused(int step)
    {
        string path = fx.CopyOf(Path.Combine(fx.Corpus.Checkpoint, "optimizer.safetensors"));
        RewriteTensors(path, (name, t) => name.EndsWith(".step", StringComparison.Ordinal) ? Tensor.FromArray(new[] { step }, new Shape(1)) : null);
        using var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 1);
        using var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 4, TargetModules = ["q_proj", "v_proj"] }, 3);
        var opt = new AdamWOptimizer(adapter.Parameters);
        ShouldNameFile(() => opt.LoadState(path), path, ".step", step.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void NaN_optimizer_state_is_refused_at_load()
    {
        string path = fx.CopyOf(Path.Combine(fx.Corpus.Checkpoint, "optimizer.safetensors"));
        RewriteTensors(path, (name, t) =>
        {
            if (t.DType != DType.F32) return null;
            var v = t.ToArray<float>();
            v[^1] = float.PositiveInfinity;
            return Tensor.FromArray(v, t.Shape);
        });
        using var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 1);
        using var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 4, TargetModules = ["q_proj", "v_proj"] }, 3);
        var opt = new AdamWOptimizer(adapter.Parameters);
        ShouldNameFile(() => opt.LoadState(path), path, "Infinity", "finite");
    }

    // Rewrites a safetensors file (metadata kept) with the first tensor that `replace` gives a value for replaced; returns its name.
    private static string RewriteTensors(string path, Func<string, Tensor, Tensor?> replace)
    {
        var list = new List<(string, Tensor)>();
        Dictionary<string, string> meta;
        string? victim = null;
        using (var f = SafeTensorsFile.Open(path))
        {
            meta = f.Metadata.ToDictionary();
            foreach (var info in f.Tensors)
            {
                var t = f.GetTensor(info.Name);
                if (victim is null && replace(info.Name, t) is { } r) { victim = info.Name; t.Dispose(); t = r; }
                list.Add((info.Name, t));
            }
        }
        SafeTensorsWriter.Write(path, list, meta);
        foreach (var (_, t) in list) t.Dispose();
        return victim!;
    }

    [Fact]
    public void Max_new_tokens_of_int_max_generates_within_the_context()
    {
        var model = LlamaModel.CreateRandom(FuzzCorpus.TinyConfig, Device.Cpu, 1);
        using var runtime = LlamaRuntime.FromModel(model, contextLength: 16);
        var tokens = runtime.Generate([300, 5, 6], new SamplingOptions { MaxNewTokens = int.MaxValue, StopTokenIds = [] }).ToList();
        tokens.Should().HaveCount(14); // 13 fill the 16-position context after the 3-token prompt, plus the last one sampled
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(int.MaxValue - 1)]
    [InlineData(1 << 30)]
    public void Huge_token_ids_are_bounded_by_what_the_file_holds(int id)
    {
        string dir = fx.CopyOf(fx.Corpus.Dense);
        string tok = Path.Combine(dir, "tokenizer.json");
        Edit(tok, s => s.Replace("\"id\":302", $"\"id\":{id}", StringComparison.Ordinal));
        ShouldNameFile(() => Llama3Tokenizer.Load(dir), tok, "added_tokens[2]", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Edit(tok, s => s.Replace($"\"id\":{id}", "\"id\":302", StringComparison.Ordinal)
            .Replace("\"hello\":259", $"\"hello\":{id}", StringComparison.Ordinal));
        ShouldNameFile(() => Llama3Tokenizer.Load(dir), tok, "model.vocab", "hello");
    }

    [Fact]
    public void Catastrophic_pre_tokenizer_regex_times_out_with_a_clear_error()
    {
        string dir = fx.CopyOf(fx.Corpus.Dense);
        string tok = Path.Combine(dir, "tokenizer.json");
        var root = JsonNode.Parse(File.ReadAllText(tok))!.AsObject();
        root["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = "(a+)+$";
        File.WriteAllText(tok, root.ToJsonString());
        var tokenizer = Llama3Tokenizer.Load(dir);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ShouldNameFile(() => tokenizer.Encode(new string('a', 40) + "!"), tok, "pre_tokenizer", "backtracking");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60));
    }

    [Theory]
    [InlineData("num_hidden_layers", "2000000000")]
    [InlineData("num_hidden_layers", "1000000")]
    [InlineData("hidden_size", "1000000")]
    [InlineData("vocab_size", "2000000000")]
    [InlineData("intermediate_size", "2000000000")]
    [InlineData("rms_norm_eps", "1e-320")]
    [InlineData("rope_theta", "1e-320")]
    public void Out_of_range_config_sizes_are_refused_before_allocating(string field, string value)
    {
        string dir = fx.CopyOf(fx.Corpus.Dense);
        string config = Path.Combine(dir, "config.json");
        var root = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        root[field] = JsonNode.Parse(value);
        File.WriteAllText(config, root.ToJsonString());
        long before = GC.GetTotalAllocatedBytes();
        ShouldNameFile(() => LlamaRuntime.Load(dir, Device.Cpu).Dispose(), config, field);
        (GC.GetTotalAllocatedBytes() - before).Should().BeLessThan(256L << 20);
    }

    [Theory]
    [InlineData("factor")]
    [InlineData("low_freq_factor")]
    public void Subnormal_rope_scaling_factor_is_refused(string field)
    {
        string dir = fx.CopyOf(fx.Corpus.Dense);
        string config = Path.Combine(dir, "config.json");
        var root = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        root["rope_scaling"]![field] = JsonNode.Parse("1e-320");
        File.WriteAllText(config, root.ToJsonString());
        ShouldNameFile(() => LlamaConfig.FromFile(config), config, "rope_scaling." + field);
    }

    [Theory]
    [InlineData("gptq", float.NaN)]
    [InlineData("gptq", float.PositiveInfinity)]
    [InlineData("awq", float.NaN)]
    public void Non_finite_int4_scales_are_refused_at_load(string method, float bad)
    {
        string dir = fx.CopyOf(method == "gptq" ? fx.Corpus.Gptq : fx.Corpus.Awq);
        string weights = Path.Combine(dir, "model.safetensors");
        string module = "model.layers.1.mlp.down_proj";
        RewriteTensors(weights, (name, t) =>
        {
            if (name != module + ".scales") return null;
            var v = t.ToArray<ushort>();
            v[5] = BitConverter.HalfToUInt16Bits((Half)bad);
            return Tensor.FromSpan<ushort>(v, t.Shape, DType.F16);
        });
        ShouldNameFile(() => LlamaRuntime.Load(dir, Device.Cpu).Dispose(), "model.safetensors", module + ".scales", "finite");
    }

    [Fact]
    public void Safetensors_header_length_one_byte_short_is_refused()
    {
        // A header padded with a space (as writers align the data to 8 bytes): declared one byte short, the JSON
        // still parses and every tensor would be read one byte early.
        using var dir = new IO.TempDir();
        string header = """{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}} """;
        string path = dir.RawSafeTensors("short.safetensors", header, 4, declaredHeaderLength: (ulong)header.Length - 1);
        ShouldNameFile(() => SafeTensorsFile.Open(path).Dispose(), path, "data section");
        string ok = dir.RawSafeTensors("ok.safetensors", header, 4);
        using var f = SafeTensorsFile.Open(ok);
        using var a = f.GetTensor("a");
        a.ToArray<byte>().Should().Equal(0, 1, 2, 3);
    }

    [Fact]
    public void Safetensors_gap_and_trailing_bytes_are_refused()
    {
        using var dir = new IO.TempDir();
        string gap = dir.RawSafeTensors("gap.safetensors", """{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}""", 12);
        ShouldNameFile(() => SafeTensorsFile.Open(gap).Dispose(), gap, "gap", "'b'");
        string tail = dir.RawSafeTensors("tail.safetensors", """{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""", 5);
        ShouldNameFile(() => SafeTensorsFile.Open(tail).Dispose(), tail, "data section");
    }
}
