using System.Text.Json.Nodes;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.IO;

namespace PureLlama.Tests.Llama;

/// <summary>
/// The library side of <c>purellama quantize</c> on the tiny fixture model: every projection written
/// under bitsandbytes' names equals the quantizer's output byte for byte, dense tensors are copied
/// as stored, config.json gains quantization_config, and the command's refusals.
/// </summary>
public sealed class CheckpointQuantizerFixtureTests
{
    private static readonly string[] Projections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    [Theory]
    [InlineData("nf4", true, "f32")]
    [InlineData("nf4", false, "bf16")]
    [InlineData("int8", false, "f32")]
    public void FixtureQuantizedFolderHoldsTheQuantizerOutput(string format, bool doubleQuant, string variant)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string src = Path.Combine(tiny, variant), outDir = dir.File("q");
        var config = QuantizationConfig.ParseFormat(format) == QuantFormat.Nf4 ? QuantizationConfig.Nf4(doubleQuant) : QuantizationConfig.Int8();
        var report = CheckpointQuantizer.Quantize(src, outDir, config);

        report.WeightFiles.Should().Equal(Path.Combine(outDir, "model.safetensors"));
        report.QuantizedWeights.Should().Be(2 * (64 * 64 * 2 + 32 * 64 * 2 + 128 * 64 * 3)); // 2 layers: q,o [64,64]; k,v [32,64]; gate,up,down 128×64
        report.OutputWeightBytes.Should().BeLessThan(report.SourceWeightBytes);

        var qc = QuantizationConfig.FromConfigFile(Path.Combine(outDir, "config.json"))!;
        qc.Format.Should().Be(config.Format);
        qc.DoubleQuant.Should().Be(config.Format == QuantFormat.Nf4 && doubleQuant);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!;
        json["hidden_size"]!.GetValue<int>().Should().Be(64, "the source fields are kept");

        using var source = HfCheckpoint.Open(src);
        using var written = HfCheckpoint.Open(outDir);
        var llama = LlamaConfig.FromFile(Path.Combine(src, "config.json"));
        long quantizedBytes = 0;
        foreach (var spec in llama.ExpectedTensors())
        {
            string module = spec.Name[..^".weight".Length];
            if (spec.Shape.Rank == 2 && spec.Name != "model.embed_tokens.weight" && module != "lm_head")
            {
                using var dense = source.GetTensor(spec.Name);
                using var expected = config.Quantize(dense);
                using var read = BitsAndBytesFormat.Read(written, module, spec.Shape);
                quantizedBytes += expected.ByteLength;
                for (int i = 0; i < expected.Components.Count; i++)
                    TempDir.Raw(read.Components[i]).Should().Equal(TempDir.Raw(expected.Components[i]), $"{module} component {i}");
            }
            else
            {
                using var a = source.GetTensor(spec.Name);
                using var b = written.GetTensor(spec.Name);
                b.DType.Should().Be(a.DType);
                TempDir.Raw(b).Should().Equal(TempDir.Raw(a), spec.Name);
            }
        }
        // Tiny matrices: the per-weight code tables (16 + 256 floats) weigh more than the scales.
        report.QuantizedBytes.Should().Be(quantizedBytes);
        report.BitsPerQuantizedWeight.Should().Be(8.0 * quantizedBytes / report.QuantizedWeights);
        if (format == "nf4")
        {
            written.Info("model.layers.0.mlp.up_proj.weight").Shape.Should().Be(new Shape(128 * 64 / 2, 1));
            written.Contains("model.layers.1.mlp.down_proj" + BitsAndBytesFormat.Nf4StateSuffix).Should().BeTrue();
        }
        else written.Info("model.layers.1.self_attn.k_proj.SCB").Shape.Should().Be(new Shape(32));
    }

    [Fact]
    public void FixtureQuantizedFolderIsShardedWhenLarge()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string outDir = dir.File("q");
        var report = CheckpointQuantizer.Quantize(Path.Combine(tiny, "f32"), outDir, QuantizationConfig.Nf4(), maxShardBytes: 40_000);
        report.WeightFiles.Count.Should().BeGreaterThan(2);
        Path.GetFileName(report.WeightFiles[0]).Should().Be($"model-00001-of-{report.WeightFiles.Count:D5}.safetensors");
        using var written = HfCheckpoint.Open(outDir);
        written.IndexPath.Should().NotBeNull();
        // All components of one weight stay in one shard.
        foreach (var p in Projections)
        {
            string module = "model.layers.1." + p;
            var files = BitsAndBytesFormat.ComponentNames(module, QuantFormat.Nf4).Where(written.Contains).Select(n => written.FileOf(n).Path).Distinct();
            files.Should().HaveCount(1, module);
        }
        // Re-quantizing into the same folder with --force replaces the shards by one file.
        CheckpointQuantizer.Quantize(Path.Combine(tiny, "f32"), outDir, QuantizationConfig.Int8(), force: true);
        Directory.GetFiles(outDir, "model*").Select(Path.GetFileName).Should().Equal("model.safetensors");
    }

    [Fact]
    public void FixtureQuantizeRefusesWhatItShould()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string src = Path.Combine(tiny, "f32"), outDir = dir.File("q");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "keep me");
        FluentActions.Invoking(() => CheckpointQuantizer.Quantize(src, outDir, QuantizationConfig.Nf4()))
            .Should().Throw<IOException>().WithMessage("*not empty*--force*");
        File.Exists(Path.Combine(outDir, "model.safetensors")).Should().BeFalse();
        CheckpointQuantizer.Quantize(src, outDir, QuantizationConfig.Nf4(), force: true);
        File.ReadAllText(Path.Combine(outDir, "notes.txt")).Should().Be("keep me");
        FluentActions.Invoking(() => CheckpointQuantizer.Quantize(outDir, dir.File("q2"), QuantizationConfig.Int8()))
            .Should().Throw<InvalidDataException>().WithMessage("*already has a quantization_config*");
        FluentActions.Invoking(() => CheckpointQuantizer.Quantize(src, src, QuantizationConfig.Int8(), force: true))
            .Should().Throw<IOException>().WithMessage("*source folder*");
    }
}
