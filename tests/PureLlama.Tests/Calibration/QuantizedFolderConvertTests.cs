using PureLlama.Calibration;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.IO;
using PureLlama.Tests.Llama;
using PureLlama.Training;

namespace PureLlama.Tests.Calibration;

/// <summary>
/// <c>convert</c> and <c>merge</c> take quantized folders: the projections are written as their dequantized weights, the
/// quantization_config is dropped, and the dense folder computes what the quantized one did.
/// </summary>
public sealed class QuantizedFolderConvertTests
{
    private static readonly int[] Prompt = [1, 17, 42, 99, 7, 250, 3, 64];

    private static float[] Logits(string folder)
    {
        using var runtime = LlamaRuntime.Load(folder);
        return runtime.Logits(Prompt);
    }

    private static string Quantized(TempDir dir, string tiny, string format)
    {
        string outDir = dir.File(format);
        if (format == "rtn")
        {
            using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
            LayerwiseQuantizer.Quantize(model, [], new LayerwiseOptions(GroupMethod.Rtn, new GroupQuantOptions(4, 32, false)));
            Int4Checkpoint.Write(model, Path.Combine(tiny, "f32"), outDir, new Int4CheckpointConfig { Method = "gptq", GroupSize = 32 });
        }
        else CheckpointQuantizer.Quantize(Path.Combine(tiny, "f32"), outDir, format == "nf4" ? QuantizationConfig.Nf4() : QuantizationConfig.Int8());
        return outDir;
    }

    [Theory]
    [InlineData("nf4")]
    [InlineData("int8")]
    [InlineData("rtn")]
    public void Fixture_a_quantized_folder_converts_to_a_dense_one_that_computes_the_same(string format)
    {
        string tiny = LlamaFixtures.FindTiny();
        using var dir = new TempDir();
        string quantized = Quantized(dir, tiny, format), dense = dir.File(format + "-f32");
        CheckpointConverter.Convert(quantized, dense, DType.F32);
        File.ReadAllText(Path.Combine(dense, "config.json")).Should().NotContain("quantization_config");
        QuantizationConfig.FromConfigFile(Path.Combine(dense, "config.json")).Should().BeNull();
        var expected = Logits(quantized);
        var actual = Logits(dense);
        for (int i = 0; i < expected.Length; i++) actual[i].Should().BeApproximately(expected[i], 1e-4f, $"logit {i}");
    }

    [Fact]
    public void Fixture_an_adapter_merges_into_a_quantized_base()
    {
        string tiny = LlamaFixtures.FindTiny();
        using var dir = new TempDir();
        string quantized = Quantized(dir, tiny, "nf4"), adapterDir = dir.File("adapter"), merged = dir.File("merged");
        using (var runtime = LlamaRuntime.Load(quantized))
        using (var adapter = LoraAdapter.Attach(runtime.Model, new LoraConfig { R = 4, Alpha = 8, TargetModules = LoraConfig.AllLinear }, seed: 5))
        {
            foreach (var p in adapter.Parameters) p.Value.Backend.Fill(p.Value, 0.01f);   // B ≠ 0 so the adapter changes the output
            adapter.Save(adapterDir);
        }
        LoraMerge.WriteMergedCheckpoint(quantized, adapterDir, merged, DType.F32);
        QuantizationConfig.FromConfigFile(Path.Combine(merged, "config.json")).Should().BeNull();
        float[] expected;
        using (var runtime = LlamaRuntime.Load(quantized))
        using (LoraAdapter.Load(runtime.Model, adapterDir)) expected = runtime.Logits(Prompt);
        var actual = Logits(merged);
        actual.Should().NotEqual(Logits(quantized), "the adapter changes the model");
        for (int i = 0; i < expected.Length; i++) actual[i].Should().BeApproximately(expected[i], 1e-4f, $"logit {i}");
    }
}
