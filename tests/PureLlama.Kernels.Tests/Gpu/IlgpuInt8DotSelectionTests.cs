using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// Which kernels multiply quantized weights on the ILGPU backend, as on the CPU: inference (no autograd) takes the dp4a
/// GEMVs for INT8 and INT4 groups at m ≤ 4 unless <see cref="QuantizedInference.ExactDequant"/> (the CLI's
/// <c>--exact-dequant</c>, a <see cref="QuantizedInference.Scope"/>) selects the exact F32-code kernels, which autograd
/// always uses; products the dp4a kernels do not serve fall back with nothing written.
/// </summary>
[Collection("Gpu")]
public sealed class IlgpuInt8DotSelectionTests
{
    private const int Out = 24, In = 64;
    private static readonly Device Dev = Device.IlgpuCpu;

    public IlgpuInt8DotSelectionTests() => PureLlama.Tests.Shared.SimulatorChecks.Require();

    private static QuantizedTensor Weight(string format, int group = 32)
    {
        var data = RandomData.Uniform(RandomData.Seed("dp4a selection", format.Length, group), Out * In);
        using var w = Tensor.FromArray(data, new Shape(Out, In));
        return format switch
        {
            "int8" => Int8Quantizer.Quantize(w, Dev),
            "int4" => Rtn.Quantize(data, Out, In, new GroupQuantOptions(4, group)).ToTensor(Dev),
            _ => Nf4Quantizer.Quantize(w, Dev),
        };
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("int4")]
    public void Inference_takes_dp4a_by_default_and_the_exact_path_when_selected(string format)
    {
        var be = (IlgpuBackend)Backends.Get(Dev);
        using var w = Weight(format);
        using var x = Tensor.FromArray(RandomData.Uniform(RandomData.Seed("dp4a selection x"), 3 * In), new Shape(1, 3, In), Dev);
        using var exactKernel = Tensor.FromArray(Poison.Floats(3 * Out), new Shape(1, 3, Out), Dev);
        using var dp4aKernel = Tensor.FromArray(Poison.Floats(3 * Out), new Shape(1, 3, Out), Dev);
        be.QuantizedMatMul(x, w, exactKernel, transposeWeight: false, accumulate: false);
        using (QuantizedInference.Scope(exactDequant: false))
            be.TryInt8DotMatMul(x, w, dp4aKernel, accumulate: false).Should().BeTrue();
        var exact = exactKernel.ToArray<float>();
        var dp4a = dp4aKernel.ToArray<float>();
        ErrorAssert.Close(dp4a, Array.ConvertAll(exact, v => (double)v), 2e-2, $"{format}: dp4a against the exact kernel");
        dp4a.Should().NotEqual(exact, "the paths round differently, so equal results would mean one path ran twice");

        using (GradMode.NoGrad())
        {
            using (QuantizedInference.Scope(exactDequant: false))
            using (var y = Ops.QuantLinear(x, w))
                ErrorAssert.BitsEqual(y.ToArray<float>(), dp4a, $"{format}: inference default");
            using (QuantizedInference.Scope(exactDequant: true))
            using (var y = Ops.QuantLinear(x, w))
                ErrorAssert.BitsEqual(y.ToArray<float>(), exact, $"{format}: exact dequant selected");
        }
        using (QuantizedInference.Scope(exactDequant: false))
        using (var y = Ops.QuantLinear(x, w))
            ErrorAssert.BitsEqual(y.ToArray<float>(), exact, $"{format}: autograd recording");
    }

    [Fact]
    public void Products_the_dp4a_kernels_do_not_serve_fall_back_with_nothing_written()
    {
        var be = (IlgpuBackend)Backends.Get(Dev);
        using var scope = QuantizedInference.Scope(exactDequant: false);
        foreach (var (format, group, m) in new[] { ("int8", 32, 5), ("int4", 16, 1), ("nf4", 32, 1) })
        {
            using var w = Weight(format, group);
            using var x = Tensor.FromArray(RandomData.Uniform(RandomData.Seed("dp4a fallback x", m), m * In), new Shape(m, In), Dev);
            using var y = Tensor.FromArray(Poison.Floats(m * Out), new Shape(m, Out), Dev);
            be.TryInt8DotMatMul(x, w, y, accumulate: false).Should().BeFalse($"{format} g{group} m={m}");
            y.ToArray<float>().Should().OnlyContain(v => float.IsNaN(v), $"{format} g{group} m={m}: nothing written");
        }
    }
}
