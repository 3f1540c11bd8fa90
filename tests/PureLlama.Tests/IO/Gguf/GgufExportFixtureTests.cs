using System.Security.Cryptography;
using PureLlama.Tests.Shared;
using PureLlama.IO;
using PureLlama.IO.Gguf;
using PureLlama.Kernels.Simd;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;
using PureLlama.Tests.Llama;
using PureLlama.Tokenization;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>The GGUF writer and exporter against llama.cpp's converter and quantizer output (shared/fixtures/gguf).</summary>
public sealed class GgufExportFixtureTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Fixture_demo_folder_to_f16_is_byte_identical_to_llama_cpps_converter()
    {
        string dir = GgufFixtures.Dir(output);
        string model = RepoPaths.DemoModel;
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(model, "model.safetensors"))));
        if (sha != "0ecf3ad811f2fa4954171ed68a2fbca166639a57f8b45101026849d464615168")
        {
            throw new SkipTestException($"models/demo changed since shared/fixtures/gguf was made (model.safetensors {sha}).");
        }
        string path = _dir.File("demo-f16.gguf");
        GgufExporter.Export(model, GgufExportType.F16, path, "PureLlama demo");
        File.ReadAllBytes(path).Should().Equal(File.ReadAllBytes(Path.Combine(dir, "demo-f16.gguf")));
    }

    [Theory]
    [InlineData("demo-f16.gguf", GgufExportType.F16, "demo-f16.gguf")]
    [InlineData("demo-f16.gguf", GgufExportType.Q8_0, "demo-q8_0.gguf")]
    [InlineData("demo-f16.gguf", GgufExportType.Q4_K_M, "demo-q4_k_m.gguf")]
    [InlineData("random-f16.gguf", GgufExportType.Q8_0, "random-q8_0.gguf")]
    [InlineData("random-f16.gguf", GgufExportType.Q4_0, "random-q4_0.gguf")]
    [InlineData("random-f16.gguf", GgufExportType.Q4_K_M, "random-q4_k_m.gguf")]
    public void Fixture_export_of_an_f16_gguf_reproduces_llama_quantize(string source, GgufExportType type, string target)
    {
        string dir = GgufFixtures.Dir(output);
        string path = _dir.File(target);
        output.WriteLine(GgufExporter.Export(Path.Combine(dir, source), type, path));
        var layout = GgufFixtures.Layout(dir, target);
        using var ours = GgufFile.Open(path, WeightLoading.Mapped);
        ours.Header.FileLength.Should().Be(layout.GetProperty("file_size").GetInt64());
        ours.Header.Metadata.Select(kv => kv.Key).Should().BeEquivalentTo(layout.GetProperty("metadata").EnumerateArray().Select(m => m.GetProperty("key").GetString()));
        ours.Header.RequiredInteger("general.file_type").Should().Be(layout.GetProperty("metadata").EnumerateArray()
            .Single(m => m.GetProperty("key").GetString() == "general.file_type").GetProperty("value").GetInt64());
        var theirs = layout.GetProperty("tensors").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        ours.Tensors.Should().HaveCount(theirs.Count);
        foreach (var t in ours.Tensors)
        {
            var expected = theirs[t.Name];
            GgmlTypes.Name(t.Type).Should().Be(expected.GetProperty("type").GetString(), t.Name);
            t.Dims.Should().Equal(expected.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), t.Name);
            Convert.ToHexStringLower(SHA256.HashData(ours.Bytes(t))).Should().Be(expected.GetProperty("sha256").GetString(), $"{t.Name} bytes as llama-quantize writes them");
        }
    }

    [Fact]
    public void Fixture_untied_model_with_llama3_rope_scaling_round_trips_through_gguf()
    {
        var tokenizerDir = RepoPaths.DemoModel;
        var tokenizer = Llama3Tokenizer.Load(tokenizerDir);
        var config = new LlamaConfig
        {
            VocabSize = 4096, HiddenSize = 64, IntermediateSize = 96, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16,
            RmsNormEps = 1e-5, RopeTheta = 500000, RopeScaling = new Llama3RopeScaling(8, 1, 4, 64), MaxPositionEmbeddings = 256,
            TieWordEmbeddings = false, BosTokenId = tokenizer.BosId, EosTokenIds = [tokenizer.EosId!.Value],
        };
        var rng = new Rng(7);
        using var model = LlamaModel.Build(config, Device.Cpu, (name, shape) =>
            shape.Rank == 1 ? Tensor.RandU(shape, rng, 0.8f, 1.2f) : Tensor.RandN(shape, rng, 0.05f));
        using var original = LlamaRuntime.FromModel(model, tokenizer);
        string path = _dir.File("scaled-f32.gguf");
        output.WriteLine(GgufExporter.Export(model, tokenizer, GgufExportType.F32, path, "round trip"));
        using var loaded = LlamaRuntime.Load(path, Device.Cpu, contextLength: 256);
        loaded.Config.TieWordEmbeddings.Should().BeFalse();
        loaded.Config.RopeFrequencyFactors.Should().HaveCount(8);
        loaded.Tokenizer!.Encode("And the LORD said unto Moses", addBos: true).Should().Equal(tokenizer.Encode("And the LORD said unto Moses", addBos: true));
        loaded.Tokenizer.ChatTemplate.TemplateText.Should().Be(tokenizer.ChatTemplate.TemplateText);
        var ids = Enumerable.Range(0, 200).Select(i => (i * 37 + 11) % 4096).ToArray(); // long enough for the scaled low frequencies to matter
        double err = LlamaFixtures.MaxAbsDiff(loaded.Logits(ids), original.Logits(ids));
        output.WriteLine($"max |Δlogit| after the round trip: {err:E2}");
        err.Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Bf16_export_of_the_demo_loads_back_to_the_same_model()
    {
        string path = _dir.File("demo-bf16.gguf");
        GgufExporter.Export(RepoPaths.DemoModel, GgufExportType.BF16, path);
        using var folder = LlamaRuntime.Load(RepoPaths.DemoModel, Device.Cpu, contextLength: 64);
        using var gguf = LlamaRuntime.Load(path, Device.Cpu, contextLength: 64);
        gguf.Model.Layers[0].Attention.QProj.DenseWeight().DType.Should().Be(DType.BF16, "BF16 weights are used as stored");
        var ids = folder.Encode("In the beginning God created the heaven and the earth.");
        gguf.Encode("In the beginning God created the heaven and the earth.").Should().Equal(ids);
        gguf.Logits(ids).Should().Equal(folder.Logits(ids), "the BF16 weights and q/k rows come back bit for bit");
    }

    [Fact]
    public void Nf4_model_is_exported_dequantized()
    {
        using var nf4 = LlamaRuntime.Load(RepoPaths.DemoModel, Device.Cpu, contextLength: 64, quantize: PureLlama.Quantization.QuantizationConfig.Nf4());
        nf4.Model.Layers[0].Attention.QProj.Should().BeOfType<PureLlama.Nn.QuantLinear>();
        string path = _dir.File("demo-nf4-as-f32.gguf");
        GgufExporter.Export(nf4.Model, nf4.Tokenizer!, GgufExportType.F32, path, "nf4");
        using var gguf = LlamaRuntime.Load(path, Device.Cpu, contextLength: 64);
        var ids = nf4.Encode("And the LORD said unto Moses");
        double err = LlamaFixtures.MaxAbsDiff(gguf.Logits(ids), nf4.Logits(ids));
        output.WriteLine($"NF4 model vs its F32 GGUF export: max |Δlogit| {err:E2}");
        err.Should().BeLessThan(1e-4);
    }
}
