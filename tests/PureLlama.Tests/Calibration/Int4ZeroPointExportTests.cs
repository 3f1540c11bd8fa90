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

/// <summary>
/// AutoGPTQ's v1 qzeros hold z − 1 per nibble, so an asymmetric zero point of 0 cannot be written in that form (AutoGPTQ
/// would read it as 16): such a model is written as gptq_v2 (true zeros); one without keeps v1. Either way every zero
/// point loads back as it was.
/// </summary>
public sealed class Int4ZeroPointExportTests
{
    [Theory]
    [InlineData(true, "gptq_v2")]
    [InlineData(false, "gptq")]
    public void Fixture_zero_points_survive_export_in_the_format_that_can_hold_them(bool withZero, string expectedFormat)
    {
        string tiny = LlamaFixtures.FindTiny();
        using var dir = new TempDir();
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Device.Cpu);
        LayerwiseQuantizer.Quantize(model, [], new LayerwiseOptions(GroupMethod.Rtn, new GroupQuantOptions(4, 32, false)));
        var layers = model.NamedLinears().Where(l => l.Linear is QuantLinear { Weight: Int4GroupTensor }).ToList();
        var expected = new Dictionary<string, int[]>();
        foreach (var (name, linear) in layers)
        {
            var zeros = ((Int4GroupTensor)((QuantLinear)linear).Weight).QZeros;
            var words = zeros.ToArray<int>();
            for (int i = 0; i < words.Length; i++)
                for (int k = 0; k < 8; k++)
                    if (((words[i] >>> (4 * k)) & 0xF) == 0) words[i] |= 1 << (4 * k);   // no zero point of 0 anywhere …
            if (withZero && expected.Count == 0) words[0] &= ~0xF;                       // … except, when asked, one
            using var edited = Tensor.FromArray(words, zeros.Shape);
            zeros.Backend.Copy(edited, zeros);
            expected[name] = words;
        }
        string outDir = dir.File("q");
        Int4Checkpoint.Write(model, Path.Combine(tiny, "f32"), outDir, new Int4CheckpointConfig { Method = "gptq", GroupSize = 32 });

        var quant = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!["quantization_config"]!;
        quant["checkpoint_format"]!.GetValue<string>().Should().Be(expectedFormat);
        using var runtime = LlamaRuntime.Load(outDir);
        foreach (var (name, linear) in runtime.Model.NamedLinears().Where(l => expected.ContainsKey(l.Name)))
            ((Int4GroupTensor)((QuantLinear)linear).Weight).QZeros.ToArray<int>().Should().Equal(expected[name], $"{name}'s zero points load back unchanged");
    }
}
