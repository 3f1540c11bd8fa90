using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Tests.Quantization;

public class Int4PackingTests
{
    private static byte[] RandomCodes(Rng rng, int n) => Enumerable.Range(0, n).Select(_ => (byte)rng.NextInt(16)).ToArray();

    [Fact]
    public void Gptq_packing_round_trips_and_puts_input_8p_in_the_low_nibble()
    {
        var rng = new Rng(11);
        int rows = 24, cols = 40;
        var codes = RandomCodes(rng, rows * cols);
        var packed = Int4Packing.PackWeight(codes, rows, cols);
        packed.Length.Should().Be(cols / 8 * rows);
        Int4Packing.UnpackWeight(packed, rows, cols).Should().Equal(codes);
        // word [p=1, o=2] holds inputs 8..15 of output 2, input 8 in bits 0..3.
        ((uint)packed[1 * rows + 2] & 0xF).Should().Be(codes[2 * cols + 8]);
        (((uint)packed[1 * rows + 2] >> 28) & 0xF).Should().Be(codes[2 * cols + 15]);
        var zeros = RandomCodes(rng, 3 * rows);
        Int4Packing.UnpackZeros(Int4Packing.PackZeros(zeros, 3, rows), 3, rows).Should().Equal(zeros);
    }

    [Fact]
    public void V1_zero_offset_converts_both_ways()
    {
        var zeros = Enumerable.Repeat((byte)8, 16).ToArray();
        var packed = Int4Packing.PackZeros(zeros, 1, 16);
        var v1 = Int4Packing.ZerosToV1(packed);
        ((uint)v1[0]).Should().Be(0x77777777u);           // AutoGPTQ stores symmetric zero 8 as 7
        Int4Packing.ZerosFromV1(v1).Should().Equal(packed);
    }

    [Fact]
    public void Tensor_round_trips_through_the_packed_components()
    {
        var rng = new Rng(12);
        var w = new float[32 * 48];
        rng.FillNormal(w);
        var q = Rtn.Quantize(w, 32, 48, new GroupQuantOptions(4, 16, false));
        using var t = q.ToTensor();
        t.Format.Should().Be(QuantFormat.Int4Group);
        t.QWeight.Shape.Should().Be(new Shape(6, 32));
        t.QZeros.Shape.Should().Be(new Shape(3, 4));
        t.Scales.DType.Should().Be(DType.F16);
        var back = GroupQuantized.FromTensor(t);
        back.Codes.Should().Equal(q.Codes);
        back.Zeros.Should().Equal(q.Zeros);
        back.Scales.Should().Equal(q.Scales);
        back.GIdx.Should().Equal(q.GIdx);
        back.Dequantize().Should().Equal(q.Dequantize());
    }

    [Fact]
    public void Awq_layout_is_the_same_math_repacked()
    {
        var rng = new Rng(13);
        var w = new float[16 * 64];
        rng.FillNormal(w);
        var q = Rtn.Quantize(w, 16, 64, new GroupQuantOptions(4, 32, false));
        var (awqWeight, awqZeros) = Int4Packing.ToAwq(q);
        awqWeight.Length.Should().Be(64 * 16 / 8);
        // AWQ word [i=0, j=0]: nibble 1 holds output column 2 (order 0,2,4,6,1,3,5,7).
        (((uint)awqWeight[0] >> 4) & 0xF).Should().Be(q.Codes[2 * 64 + 0]);
        var scales = Array.ConvertAll(q.Scales, s => BitConverter.HalfToUInt16Bits((Half)s));
        using var t = Int4Packing.FromAwq(awqWeight, awqZeros, scales, 16, 64, 32);
        GroupQuantized.FromTensor(t).Dequantize().Should().Equal(q.Dequantize());
    }

    [Fact]
    public void Bad_shapes_are_named()
    {
        var act = () => new Int4GroupTensor(new Shape(16, 12), 128, 1, false,
            Tensor.Zeros(new Shape(1, 16), DType.I32), Tensor.Zeros(new Shape(1, 2), DType.I32),
            Tensor.Zeros(new Shape(1, 16), DType.F16), Tensor.Zeros(new Shape(12), DType.I32));
        act.Should().Throw<ArgumentException>().WithMessage("*multiples of 8*");
        var act2 = () => new Int4GroupTensor(new Shape(16, 16), 128, 1, false,
            Tensor.Zeros(new Shape(2, 16), DType.I32), Tensor.Zeros(new Shape(1, 3), DType.I32),
            Tensor.Zeros(new Shape(1, 16), DType.F16), Tensor.Zeros(new Shape(16), DType.I32));
        act2.Should().Throw<ArgumentException>().WithMessage("*qzeros*");
        var act3 = () => new Int4GroupTensor(new Shape(16, 16), 8, 2, false,
            Tensor.Zeros(new Shape(2, 16), DType.I32), Tensor.Zeros(new Shape(2, 2), DType.I32),
            Tensor.Zeros(new Shape(2, 16), DType.F16), Tensor.FromArray(Enumerable.Range(0, 16).ToArray(), new Shape(16)));
        act3.Should().Throw<ArgumentException>().WithMessage("*g_idx[2] = 2*");
    }
}
