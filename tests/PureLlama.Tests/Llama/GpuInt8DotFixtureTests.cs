using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Llama;

/// <summary>
/// The tiny fixture model with INT8 and INT4 (RTN g32) projections, lm_head included, on the ILGPU backend (ILGPU's CPU
/// accelerator, which runs the dp4a emulation): a forward of ≤ 4 tokens takes the dp4a GEMVs by default and the exact
/// F32-code kernels under <see cref="QuantizedInference.Scope"/>(true); the logits differ by what activation
/// quantization implies, and greedy decoding (m = 1 steps) gives the same tokens on both paths.
/// </summary>
public sealed class GpuInt8DotFixtureTests(ITestOutputHelper output)
{
    private static readonly Device Dev = Device.IlgpuCpu;

    private static LlamaRuntime Load(string tiny, string format)
    {
        // Quantized on the host and moved (quantizing on the CPU accelerator takes minutes).
        var rt = LlamaRuntime.Load(Path.Combine(tiny, "f32"), Dev, WeightLoading.Copied);
        foreach (var (name, l) in rt.Model.NamedLinears().ToList())
        {
            float[] w = l.DenseWeight().ToFloatArray();
            QuantizedTensor q;
            if (format == "int8")
            {
                using var host = Tensor.FromArray(w, new Shape(l.OutFeatures, l.InFeatures));
                q = Int8Quantizer.Quantize(host, Dev);
            }
            else q = Rtn.Quantize(w, l.OutFeatures, l.InFeatures, new GroupQuantOptions(GroupSize: 32)).ToTensor(Dev);
            rt.Model.ReplaceLinear(name, new QuantLinear(q)).Dispose();
        }
        return rt;
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("int4-rtn")]
    public void FixtureDp4aLogitsStayCloseToTheExactPathAndGreedyTokensAgree(string format)
    {
        PureLlama.Tests.Shared.SimulatorChecks.Require();
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var rt = Load(tiny, format);
        int[] ids = LlamaFixtures.Prompt[..3];
        float[] exact, fast;
        using (QuantizedInference.Scope(true)) exact = rt.Logits(ids);
        using (QuantizedInference.Scope(false)) fast = rt.Logits(ids);
        double error = Int8DotFixtureTests.RelativeError(fast, exact);
        output.WriteLine($"{format} on {Dev}: logits of {ids.Length} tokens, relative error dp4a vs exact {error:E3}");
        error.Should().BeGreaterThan(0, "the switch selects a different path");
        error.Should().BeLessThan(0.02, "int8 activations (≤ 0.4 % per element) move the logits by well under 1 %");

        var greedy = new SamplingOptions { Temperature = 0, MaxNewTokens = 4 };
        int[] exactTokens, fastTokens;
        using (QuantizedInference.Scope(true)) exactTokens = rt.Generate(ids, greedy).Select(t => t.Id).ToArray();
        using (QuantizedInference.Scope(false)) fastTokens = rt.Generate(ids, greedy).Select(t => t.Id).ToArray();
        output.WriteLine($"greedy exact {string.Join(",", exactTokens)}; dp4a {string.Join(",", fastTokens)}");
        fastTokens.Should().Equal(exactTokens, "decode steps on the dp4a path pick the exact path's tokens");
    }
}
