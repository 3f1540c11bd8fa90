using PureLlama.Compute;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// IlgpuBackend.QuantizedMatMul / Dequantize through the IBackend surface on ILGPU's CPU accelerator:
/// weights from the real quantizers (NF4 plain and double-quantized, INT8), batched leading dims of x,
/// both products, accumulate, poisoned outputs, and the argument errors.
/// </summary>
[Collection("Gpu")]
public sealed class IlgpuQuantizedBackendTests
{
    private const int Out = 5, In = 70;
    private static readonly Device Dev = Device.IlgpuCpu;

    /// <summary>Every test here runs on the ILGPU CPU accelerator.</summary>
    public IlgpuQuantizedBackendTests() => PureLlama.Tests.Shared.SimulatorChecks.Require();

    public static TheoryData<string> Formats => new() { "nf4", "nf4-plain", "int8" };

    private static QuantizedTensor Quantize(string format, int seed)
    {
        using var w = Tensor.FromArray(RandomData.Uniform(seed, Out * In), new Shape(Out, In));
        return format switch
        {
            "nf4" => Nf4Quantizer.Quantize(w, Dev),
            "nf4-plain" => Nf4Quantizer.Quantize(w, Dev, doubleQuant: false),
            _ => Int8Quantizer.Quantize(w, Dev),
        };
    }

    /// <summary>Ŵ in float64 from the weight's components, copied back to the host.</summary>
    private static double[] Reference(QuantizedTensor q) => q switch
    {
        Nf4Tensor n when n.DoubleQuantized => ReferenceQuant.DequantizeNf4(n.Packed.ToArray<byte>(), n.QuantMap.ToArray<float>(),
            n.Absmax.ToArray<byte>(), n.NestedAbsmax!.ToArray<float>(), n.NestedQuantMap!.ToArray<float>(), n.NestedOffset,
            n.BlockSize, n.NestedBlockSize, Out, In),
        Nf4Tensor n => ReferenceQuant.DequantizeNf4(n.Packed.ToArray<byte>(), n.QuantMap.ToArray<float>(), n.Absmax.ToArray<float>(), n.BlockSize, Out, In),
        Int8Tensor i => ReferenceQuant.DequantizeInt8(i.Values.ToArray<sbyte>(), i.RowAbsmax.ToArray<float>(), Out, In),
        _ => throw new ArgumentException(q.GetType().Name),
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Products_over_batched_x_match_reference(string format)
    {
        var be = Backends.Get(Dev);
        using var q = Quantize(format, RandomData.Seed("backend quant", format.Length));
        var wRef = Reference(q);
        foreach (var (dims, transpose, accumulate) in new (int[], bool, bool)[]
                 { ([1, In], false, false), ([2, 3, In], false, true), ([2, Out], true, false), ([3, 7, Out], true, true) })
        {
            int m = dims[..^1].Aggregate(1, (a, b) => a * b);
            int yCols = transpose ? In : Out;
            var x = RandomData.Uniform(RandomData.Seed("x", m, yCols), m * dims[^1]);
            var y0 = accumulate ? RandomData.Uniform(RandomData.Seed("y", m), m * yCols) : Poison.Floats(m * yCols);
            var xd = Array.ConvertAll(x, v => (double)v);
            var expected = transpose ? ReferenceQuant.MatmulWeight(xd, m, wRef, Out, In) : ReferenceQuant.MatmulWeightT(xd, m, wRef, Out, In);
            if (accumulate) for (int k = 0; k < expected.Length; k++) expected[k] += y0[k];
            using var tx = Tensor.FromArray(x, new Shape(dims), Dev);
            using var ty = Tensor.FromArray(y0, new Shape([.. dims[..^1], yCols]), Dev);
            be.QuantizedMatMul(tx, q, ty, transpose, accumulate);
            ErrorAssert.Close(ty.ToArray<float>(), expected, 1e-5, $"{format} x{new Shape(dims)} transpose={transpose} acc={accumulate}");
        }

        using var dst = Tensor.FromArray(Poison.Floats(Out * In), new Shape(Out, In), Dev);
        be.Dequantize(q, dst);
        ErrorAssert.Close(dst.ToArray<float>(), wRef, 1e-6, $"{format} dequantize");
    }

    [Fact]
    public void Rejects_mismatched_shapes_and_devices()
    {
        var be = Backends.Get(Dev);
        using var q = Quantize("nf4", 3);
        using var x = Tensor.FromArray(new float[2 * 69], new Shape(2, 69), Dev);
        using var xOk = Tensor.FromArray(new float[2 * In], new Shape(2, In), Dev);
        using var y = Tensor.FromArray(new float[2 * Out], new Shape(2, Out), Dev);
        using var yBad = Tensor.FromArray(new float[3 * Out], new Shape(3, Out), Dev);
        using var dstBad = Tensor.FromArray(new float[In * Out], new Shape(In, Out), Dev);
        using var onCpu = q.To(Device.Cpu);
        FluentActions.Invoking(() => be.QuantizedMatMul(x, q, y, false, false))
            .Should().Throw<ArgumentException>().WithMessage("*x*[2, 69]*must end in 70*");
        FluentActions.Invoking(() => be.QuantizedMatMul(xOk, q, yBad, false, false))
            .Should().Throw<ArgumentException>().WithMessage("*leading dimensions of x*[2, 70]*y*[3, 5]*differ*");
        FluentActions.Invoking(() => be.QuantizedMatMul(xOk, q, y, true, false))
            .Should().Throw<ArgumentException>().WithMessage("*x·W*x*must end in 5*");
        FluentActions.Invoking(() => be.QuantizedMatMul(xOk, onCpu, y, false, false))
            .Should().Throw<ArgumentException>().WithMessage("w:*not on ilgpu-cpu*");
        FluentActions.Invoking(() => be.Dequantize(q, dstBad))
            .Should().Throw<ArgumentException>().WithMessage("*destination*[70, 5]*[5, 70]*");
    }
}
