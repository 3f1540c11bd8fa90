using System.Text.Json.Nodes;
using PureLlama.Calibration;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.IO;
using PureLlama.Tests.Llama;

namespace PureLlama.Tests.Calibration;

/// <summary>Broken GPTQ/AWQ folders and configs are refused with a message naming the field or tensor.</summary>
public sealed class Int4CheckpointErrorTests
{
    private static string WriteRtnFolder(TempDir dir, string tiny, string method = "gptq")
    {
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        LayerwiseQuantizer.Quantize(model, [], new LayerwiseOptions(GroupMethod.Rtn, new GroupQuantOptions(4, 32, false)));
        string outDir = dir.File("q");
        Int4Checkpoint.Write(model, Path.Combine(tiny, "f32"), outDir, new Int4CheckpointConfig { Method = method, GroupSize = 32 });
        return outDir;
    }

    private static void EditQuantConfig(string folder, Action<JsonObject> edit)
    {
        string path = Path.Combine(folder, "config.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(root["quantization_config"]!.AsObject());
        File.WriteAllText(path, root.ToJsonString());
    }

    [Theory]
    [InlineData("bits", 3, "*bits*3*")]
    [InlineData("checkpoint_format", "marlin", "*checkpoint_format*marlin*")]
    [InlineData("group_size", 0, "*group_size*")]
    public void Unsupported_gptq_config_values_are_named(string field, object value, string message)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string folder = WriteRtnFolder(dir, tiny);
        EditQuantConfig(folder, q => q[field] = JsonValue.Create(value));
        FluentActions.Invoking(() => LlamaRuntime.Load(folder, Device.Cpu)).Should().Throw<InvalidDataException>().WithMessage(message);
    }

    [Fact]
    public void A_missing_component_and_a_requantization_are_named()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string folder = WriteRtnFolder(dir, tiny, "awq");
        FluentActions.Invoking(() => LlamaRuntime.Load(folder, Device.Cpu, quantize: QuantizationConfig.Nf4()))
            .Should().Throw<InvalidDataException>().WithMessage("*AWQ*re-quantized*");
        string file = Path.Combine(folder, "model.safetensors");
        using (var st = SafeTensorsFile.Open(file))
        {
            var kept = st.Tensors.Select(i => i.Name).Where(n => n != "model.layers.1.mlp.up_proj.qzeros")
                .Select(n => (IReadOnlyList<(string, Tensor)>)[(n, st.GetTensor(n))]).ToList();
            HfCheckpointWriter.WriteWeights(folder, kept); // the copied file's tensors stay valid while it is open
            foreach (var g in kept) foreach (var (_, t) in g) t.Dispose();
        }
        FluentActions.Invoking(() => LlamaRuntime.Load(folder, Device.Cpu)).Should().Throw<InvalidDataException>().WithMessage("*model.layers.1.mlp.up_proj.qzeros*missing*");
    }

    [Fact]
    public void Fixture_quantize_lm_head_quantizes_the_dense_head_of_an_int4_folder_alone()
    {
        string tiny = LlamaFixtures.FindTiny();
        using var dir = new TempDir();
        string folder = WriteRtnFolder(dir, tiny);
        int[] prompt = [1, 5, 9, 200, 3, 77];
        using var asStored = LlamaRuntime.Load(folder, Device.Cpu);
        using var headInt8 = LlamaRuntime.Load(folder, Device.Cpu, quantize: QuantizationConfig.Int8() with { SkipModules = [] });
        asStored.Model.LmHead.Should().NotBeOfType<QuantLinear>();
        var head = headInt8.Model.LmHead.Should().BeOfType<QuantLinear>().Subject;
        head.Weight.Format.Should().Be(QuantFormat.Int8);
        headInt8.Model.Layers[0].Mlp.UpProj.Should().BeOfType<QuantLinear>().Which.Weight.Should().BeOfType<Int4GroupTensor>("the projections stay as stored");
        float[] expected = asStored.Logits(prompt), actual = headInt8.Logits(prompt);
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++) { err = Math.Max(err, Math.Abs(actual[i] - expected[i])); norm = Math.Max(norm, Math.Abs(expected[i])); }
        err.Should().BeGreaterThan(0, "the head is INT8 now").And.BeLessThan(0.05 * norm, "INT8 row-wise absmax keeps the logits close");

        // --lm-head-format: the head in a ggml block format of its own (Q8_0: the fixture's hidden 64 is two blocks).
        using var headQ8 = LlamaRuntime.Load(folder, Device.Cpu, quantize: QuantizationConfig.Int8() with { SkipModules = [], LmHeadFormat = QuantFormat.Q8_0 });
        headQ8.Model.LmHead.Should().BeOfType<QuantLinear>().Which.Weight.Should().BeOfType<GgmlBlockTensor>().Which.Format.Should().Be(QuantFormat.Q8_0);
        actual = headQ8.Logits(prompt);
        err = 0;
        for (int i = 0; i < expected.Length; i++) err = Math.Max(err, Math.Abs(actual[i] - expected[i]));
        err.Should().BeGreaterThan(0, "the head is Q8_0 now").And.BeLessThan(0.05 * norm, "Q8_0 keeps the logits close");
    }

    [Fact]
    public void Fixture_lm_head_options_on_a_folder_whose_head_is_stored_int4_are_refused_not_ignored()
    {
        string tiny = LlamaFixtures.FindTiny();
        using var dir = new TempDir();
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        LayerwiseQuantizer.Quantize(model, [], new LayerwiseOptions(GroupMethod.Rtn, new GroupQuantOptions(4, 32, false)));
        var dense = model.LmHead.DenseWeight().ToFloatArray();
        var head = Rtn.Quantize(dense, model.Config.VocabSize, model.Config.HiddenSize, new GroupQuantOptions(4, 32, false));
        model.ReplaceLinear("lm_head", new QuantLinear(head.ToTensor())).Dispose();
        string folder = dir.File("q");
        Int4Checkpoint.Write(model, Path.Combine(tiny, "f32"), folder, new Int4CheckpointConfig { Method = "gptq", GroupSize = 32 });

        using (var asStored = LlamaRuntime.Load(folder, Device.Cpu))
            asStored.Model.LmHead.Should().BeOfType<QuantLinear>().Which.Weight.Should().BeOfType<Int4GroupTensor>();
        FluentActions.Invoking(() => LlamaRuntime.Load(folder, Device.Cpu, quantize: QuantizationConfig.Int8() with { SkipModules = [], LmHeadFormat = QuantFormat.Q8_0 }))
            .Should().Throw<InvalidDataException>().WithMessage($"*{folder}*lm_head*--lm-head-format*");
    }
}
