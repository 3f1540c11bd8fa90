using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Tensors;
using PureLlama.Tests.IO.Gguf;
using Xunit.Abstractions;

namespace PureLlama.Tests.Gguf;

/// <summary>
/// q/k/v and gate/up of a GGUF model under one fork (<see cref="LinearGroup"/>): each output bitwise what the layer's own
/// Forward gives, in inference; with autograd on, the layers run one by one (same values, gradients recorded).
/// </summary>
public sealed class LinearGroupFixtureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("random-q4_k_m.gguf", 1)]
    [InlineData("random-q4_k_m.gguf", 5)]
    [InlineData("random-q8_0.gguf", 3)]
    [InlineData("random-q4_0.gguf", 1)]
    public void Fixture_grouped_products_equal_the_layers_alone(string file, int rows)
    {
        using var runtime = LlamaRuntime.Load(Path.Combine(GgufFixtures.Dir(output), file), Device.Cpu, WeightLoading.Mapped, contextLength: 64);
        var layer = runtime.Model.Layers[0];
        var groups = new[]
        {
            new[] { layer.Attention.QProj, layer.Attention.KProj, layer.Attention.VProj },
            new[] { layer.Mlp.GateProj, layer.Mlp.UpProj },
        };
        using var x = Tensor.RandN(new Shape(rows, runtime.Model.Config.HiddenSize), new Rng((ulong)(rows * 31 + file.Length)));
        using var _ = GradMode.NoGrad();
        using var fast = QuantizedInference.Scope(exactDequant: false);   // the int8 dot-product path, where grouping applies
        foreach (var group in groups)
        {
            var together = LinearGroup.Forward(x, group);
            var weights = group.Select(l => ((QuantLinear)l).Weight).ToArray();
            bool tiled = weights.All(w => PureLlama.Kernels.Blocks.BlockTiledMatmul.HasSimdKernel(((GgmlBlockTensor)w).Type));
            var direct = weights.Select(w => Tensor.Empty(new Shape(rows, w.Rows), DType.F32, Device.Cpu)).ToArray();
            try
            {
                ((CpuBackend)x.Backend).TryInt8DotMatMulMany(x, weights, direct).Should().Be(tiled, "every weight has block tiles where a tiled kernel runs");
                for (int i = 0; i < group.Length; i++)
                {
                    using var alone = group[i].Forward(x);
                    together[i].Shape.Should().Be(alone.Shape);
                    var a = together[i].ToFloatArray();
                    var b = alone.ToFloatArray();
                    var c = direct[i].ToFloatArray();
                    for (int j = 0; j < a.Length; j++)
                    {
                        BitConverter.SingleToInt32Bits(a[j]).Should().Be(BitConverter.SingleToInt32Bits(b[j]), $"output {i}, element {j}");
                        if (tiled)
                            BitConverter.SingleToInt32Bits(c[j]).Should().Be(BitConverter.SingleToInt32Bits(b[j]), $"output {i}, element {j}");
                    }
                }
            }
            finally { foreach (var t in together.Concat(direct)) t.Dispose(); }
        }
    }
}
