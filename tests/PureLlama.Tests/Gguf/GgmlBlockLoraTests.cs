using PureLlama.Autograd;
using PureLlama.Kernels.Blocks;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.Autograd;

namespace PureLlama.Tests.Gguf;

/// <summary>QLoRA on a GGUF-quantized base: the frozen block-format weight passes gradients to x (dX = dY·Ŵ) and LoRA's A, B.</summary>
public sealed class GgmlBlockLoraTests
{
    [Theory, MemberData(nameof(GradCheckTests.Devices), MemberType = typeof(GradCheckTests))]
    public void Lora_on_a_block_format_base_matches_finite_differences(string device)
    {
        foreach (var type in BlockFormats.All) Check(Device.Parse(device), type);
    }

    private static void Check(Device d, GgmlType type)
    {
        string format = type.ToString();
        int inF = BlockFormats.BlockValues(type) * 2, outF = 9, r = 3;
        using var dense = Tensor.RandU(new Shape(outF, inF), new Rng(21), -1f, 1f);
        using var w = GgmlQuantizer.Quantize(dense, type, d);
        // x [2, 3, in] through the quantized base (GEMV-sized) and a longer x [20, in] (GEMM-sized backward).
        foreach (int[] xShape in new[] { new[] { 2, 3, inF }, new[] { 20, inF } })
        {
            Tensor[] inputs = [GradCheckTests.Leaf(d, 1, xShape), GradCheckTests.Leaf(d, 2, r, inF), GradCheckTests.Leaf(d, 3, outF, r)];
            var worst = GradCheck.Run(t => Ops.Lora(t[0], t[1], t[2], Ops.QuantLinear(t[0], w), 0.7f), inputs, maxElementsPerInput: GradCheckTests.ElementsToCheck(d));
            worst.RelativeError.Should().BeLessThan(2e-3, $"{format} x [{string.Join(", ", xShape)}]: {worst}");
            foreach (var t in inputs) t.Dispose();
        }
    }

    [Fact]
    public void Base_forward_equals_dense_linear_over_the_dequantized_weight()
    {
        foreach (var type in BlockFormats.All)
        {
            using var dense = Tensor.RandU(new Shape(7, BlockFormats.BlockValues(type)), new Rng(5), -1f, 1f);
            using var layer = new QuantLinear(GgmlQuantizer.Quantize(dense, type));
            layer.Weight.Format.ToString().Should().Be(type.ToString());
            using var wHat = Tensor.Empty(layer.Weight.Shape);
            wHat.Backend.Dequantize(layer.Weight, wHat);
            using var x = Tensor.RandU(new Shape(3, dense.Shape[1]), new Rng(6), -1f, 1f);
            using var y = layer.Forward(x);
            using var expected = Ops.Linear(x, wHat);
            var a = y.ToFloatArray();
            var b = expected.ToFloatArray();
            for (int i = 0; i < a.Length; i++) a[i].Should().BeApproximately(b[i], 1e-4f, type.ToString());
        }
    }
}
