using System.Text.Json;
using PureLlama.Autograd;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using static PureLlama.Tests.Training.LoraFixtureHelpers;
using PureLlama.Training;
using Xunit.Abstractions;

namespace PureLlama.Tests.Training;

/// <summary>LoRA on the tiny Llama fixture: attach/detach, PEFT files, merge, and gradients of the whole model.</summary>
public sealed class LoraAdapterFixtureTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "purellama-lora-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static LlamaModel? Load(out string? tiny)
    {
        tiny = LlamaFixtures.FindTiny();
        return tiny is null ? null : LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
    }

    [Fact]
    public void Attach_names_counts_and_detach_as_peft()
    {
        using var model = Load(out _);
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var baseLogits = Logits(model);
        var q0 = model.Layers[0].Attention.QProj;
        var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 4, Alpha = 8, TargetModules = ["all-linear"] }, seed: 1);
        adapter.Parameters.Should().HaveCount(2 * 7 * 2);
        adapter.Parameters[0].Name.Should().Be("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
        adapter.Parameters[1].Name.Should().Be("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
        adapter.Parameters.Should().Contain(p => p.Name == "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight" && p.Value.Shape == new Shape(64, 4));
        adapter.Parameters.Should().NotContain(p => p.Name.Contains("lm_head"), "all-linear never targets lm_head");
        adapter.Parameters.Should().OnlyContain(p => p.Value.RequiresGrad && p.Value.DType == DType.F32);
        // embed 16384 + 2 × (norms 128 + projections 36864) + norm 64 + lm_head 16384 = 106816; LoRA 2 × 4096
        adapter.Summary.Should().Be("trainable params: 8,192 || all params: 115,008 || trainable%: 7.1230");
        Logits(model).Should().Equal(baseLogits, "B starts at zero");
        model.Layers[0].Attention.QProj.Should().BeOfType<LoraLinear>();
        adapter.Detach();
        model.Layers[0].Attention.QProj.Should().BeSameAs(q0);
        Logits(model).Should().Equal(baseLogits);

        var act = () => LoraAdapter.Attach(model, new LoraConfig { TargetModules = ["qproj"] }, 1);
        act.Should().Throw<ArgumentException>().WithMessage("*qproj*");
        using var qv = LoraAdapter.Attach(model, new LoraConfig(), 1);
        qv.Layers.Select(l => l.Module).Should().Equal("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
            "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
    }

    [Fact]
    public void Save_writes_peft_files_and_load_gives_identical_logits()
    {
        using var model = Load(out var tiny);
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var config = new LoraConfig { R = 8, Alpha = 16, Dropout = 0.05f, TargetModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], BaseModelNameOrPath = "llama3-tiny" };
        float[] trained;
        using (var adapter = LoraAdapter.Attach(model, config, seed: 5))
        {
            Randomize(adapter, 9);
            adapter.Eval();
            trained = Logits(model);
            adapter.Save(_dir);
        }
        File.Exists(Path.Combine(_dir, "adapter_model.safetensors")).Should().BeTrue();
        Directory.GetFiles(_dir, "*.tmp").Should().BeEmpty();
        using (var file = SafeTensorsFile.Open(Path.Combine(_dir, "adapter_model.safetensors")))
        {
            file.Tensors.Should().HaveCount(28);
            file.Tensors.Should().OnlyContain(t => t.DTypeName == "F32" && t.Name.StartsWith("base_model.model.model.layers.") && !t.Name.Contains("default"));
            file.Info("base_model.model.model.layers.1.mlp.gate_proj.lora_A.weight").Shape.Should().Be(new Shape(8, 64));
            file.Metadata["format"].Should().Be("pt");
        }
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "adapter_config.json"))))
        {
            var root = doc.RootElement;
            root.GetProperty("peft_type").GetString().Should().Be("LORA");
            root.GetProperty("task_type").GetString().Should().Be("CAUSAL_LM");
            root.GetProperty("r").GetInt32().Should().Be(8);
            root.GetProperty("lora_alpha").GetRawText().Should().Be("16");
            root.GetProperty("lora_dropout").GetRawText().Should().Be("0.05");
            root.GetProperty("bias").GetString().Should().Be("none");
            root.GetProperty("use_rslora").GetBoolean().Should().BeFalse();
            root.GetProperty("fan_in_fan_out").GetBoolean().Should().BeFalse();
            root.GetProperty("init_lora_weights").GetBoolean().Should().BeTrue();
            root.GetProperty("inference_mode").GetBoolean().Should().BeTrue();
            root.GetProperty("modules_to_save").ValueKind.Should().Be(JsonValueKind.Null);
            root.GetProperty("base_model_name_or_path").GetString().Should().Be("llama3-tiny");
            root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()).Should()
                .BeEquivalentTo(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
            root.EnumerateObject().Select(p => p.Name).Should().BeInAscendingOrder(StringComparer.Ordinal, "PEFT writes sort_keys=True");
        }

        using var fresh = LlamaFixtures.LoadModel(tiny!, "f32", Device.Cpu);
        using (var loaded = LoraAdapter.Load(fresh, _dir))
        {
            loaded.Training.Should().BeFalse();
            loaded.Config.R.Should().Be(8);
            loaded.Config.Alpha.Should().Be(16);
            Logits(fresh).Should().Equal(trained, "the same A and B give bit-identical logits");
        }

        // Keys with the adapter name inside, as some PEFT versions write them.
        string alt = Path.Combine(_dir, "default-keys");
        Directory.CreateDirectory(alt);
        File.Copy(Path.Combine(_dir, "adapter_config.json"), Path.Combine(alt, "adapter_config.json"));
        RewriteWeights(alt, name => name.Replace(".lora_A.", ".lora_A.default.").Replace(".lora_B.", ".lora_B.default."), reshapeFirst: false);
        using (var loaded = LoraAdapter.Load(fresh, alt)) Logits(fresh).Should().Equal(trained);

        // A wrong shape names the tensor and both shapes.
        RewriteWeights(alt, name => name, reshapeFirst: true);
        var act = () => LoraAdapter.Load(fresh, alt);
        act.Should().Throw<InvalidDataException>().WithMessage("*lora_A.weight' is [7, 64]; expected [8, *");
    }

    private void RewriteWeights(string dir, Func<string, string> rename, bool reshapeFirst)
    {
        using var file = SafeTensorsFile.Open(Path.Combine(_dir, "adapter_model.safetensors"));
        var tensors = file.Tensors.Select(i => (rename(i.Name), file.GetTensor(i.Name))).ToList();
        if (reshapeFirst)
        {
            int k = tensors.FindIndex(t => t.Item1.Contains("lora_A"));
            tensors[k] = (tensors[k].Item1, Tensor.Zeros(new Shape(7, 64)));
        }
        SafeTensorsWriter.Write(Path.Combine(dir, "adapter_model.safetensors"), tensors);
        foreach (var (_, t) in tensors) t.Dispose();
    }

    [Fact]
    public void Merged_dense_weights_give_the_adapter_logits()
    {
        using var model = Load(out _);
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 13, Alpha = 7, UseRsLora = true, TargetModules = ["all-linear"] }, seed: 3);
        Randomize(adapter, 4);
        var withAdapter = Logits(model);
        adapter.Merge();
        model.NamedLinears().Should().OnlyContain(l => l.Linear is Linear);
        var merged = Logits(model);
        double rel = RelativeError(merged, withAdapter);
        output.WriteLine($"merged vs adapter logits: relative error {rel:E2}");
        rel.Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Merged_checkpoint_on_disk_loads_as_a_plain_model_with_the_adapter_logits()
    {
        using var model = Load(out var tiny);
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        float[] withAdapter;
        using (var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 8, Alpha = 16, TargetModules = ["q_proj", "v_proj", "down_proj"] }, seed: 21))
        {
            Randomize(adapter, 22);
            withAdapter = Logits(model);
            adapter.Save(Path.Combine(_dir, "adapter"));
        }
        string outDir = Path.Combine(_dir, "merged");
        string summary = LoraMerge.WriteMergedCheckpoint(Path.Combine(tiny!, "f32"), Path.Combine(_dir, "adapter"), outDir, DType.F32);
        summary.Should().StartWith("trainable params: ");
        File.Exists(Path.Combine(outDir, "model.safetensors")).Should().BeTrue();
        File.ReadAllText(Path.Combine(outDir, "config.json")).Should().Contain("\"torch_dtype\": \"float32\"");
        using var merged = LlamaFixtures.LoadModel(_dir, "merged", Device.Cpu);
        double rel = RelativeError(Logits(merged), withAdapter);
        output.WriteLine($"merged checkpoint vs adapter logits: relative error {rel:E2}");
        rel.Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Whole_model_lora_gradients_match_finite_differences()
    {
        using var model = Load(out _);
        if (model is null) { output.WriteLine("skipped: shared/fixtures/llama3-tiny missing"); return; }
        using var adapter = LoraAdapter.Attach(model, new LoraConfig { R = 4, Alpha = 8, TargetModules = ["all-linear"] }, seed: 11);
        Randomize(adapter, 12);
        var prompt = LlamaFixtures.Prompt;
        using var ids = Tensor.FromArray(prompt[..^1], new Shape(15));
        using var targets = Tensor.FromArray(prompt[1..], new Shape(15));
        var q = (LoraLinear)model.Layers[0].Attention.QProj;
        var down = (LoraLinear)model.Layers[1].Mlp.DownProj;
        var v = (LoraLinear)model.Layers[1].Attention.VProj;
        var worst = GradCheck.Run(_ =>
        {
            var logits = model.Forward(ids);   // kept alive: the tape needs it for the backward
            var loss = Ops.CrossEntropy(logits, targets);
            return Ops.Scale(loss, 100f);
        }, [q.A, q.B, down.A, down.B, v.A, v.B], h: 1e-2, maxElementsPerInput: 10);
        output.WriteLine($"worst element: {worst}");
        // Per element, F32 rounding of the loss (~1e-4 of 2h) and the h² term leave about 1% here.
        worst.RelativeError.Should().BeLessThan(1.5e-2, worst.ToString());

        // Along the whole LoRA gradient (all 28 tensors) the derivative is large and rounding is relatively small.
        var (norm, numeric) = LoraFixtureHelpers.DirectionalDerivative(model, adapter);
        output.WriteLine($"directional derivative along the LoRA gradient: autograd {norm:E5}, finite differences {numeric:E5}");
        numeric.Should().BeApproximately(norm, 5e-3 * norm);
    }
}
