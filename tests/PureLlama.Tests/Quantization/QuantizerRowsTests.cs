using PureLlama.Kernels.Blocks;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Tests.Quantization;

/// <summary>
/// Row-wise quantizers (Q-blocks, INT8, NF4 when no block crosses a row) read a BF16/F16 weight a chunk of rows at a time (QuantizerRows): the result equals, bit for bit,
/// quantizing the weight's F32 copy, over several chunks with a ragged last one; a non-finite value in a later chunk is
/// still refused.
/// </summary>
public sealed class QuantizerRowsTests
{
    private const int Rows = 8200, Cols = 256;   // 2 M values per chunk → chunks of 8192 rows and one of 8

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void Chunked_quantization_equals_quantizing_the_f32_copy(DType dtype)
    {
        using var weight = Tensor.RandU(new Shape(Rows, Cols), new Rng(31), -2f, 2f, dtype);
        using var f32 = weight.To(DType.F32);
        foreach (var type in new[] { GgmlType.Q4_0, GgmlType.Q6_K })
        {
            using var chunked = GgmlQuantizer.Quantize(weight, type);
            chunked.Blocks.ToArray<byte>().Should().Equal(GgmlQuantizer.QuantizeRows(type, f32.ToFloatArray(), Cols), $"{type} of {dtype}");
        }
        foreach (int blockSize in new[] { 64, 96 })   // 96: blocks cross rows of 256, so the weight is staged whole
        {
            using var nf4 = Nf4Quantizer.Quantize(weight, blockSize: blockSize);
            using var nf4F32 = Nf4Quantizer.Quantize(f32, blockSize: blockSize);
            nf4.Components.Should().HaveSameCount(nf4F32.Components);
            for (int i = 0; i < nf4.Components.Count; i++)
                Llama.QuantizedLlamaFixtureTests.RawBytes(nf4.Components[i]).Should().Equal(Llama.QuantizedLlamaFixtureTests.RawBytes(nf4F32.Components[i]), $"NF4 blocks of {blockSize}, component {i}");
        }
        using var int8 = Int8Quantizer.Quantize(weight);
        using var int8F32 = Int8Quantizer.Quantize(f32);
        int8.Values.ToArray<sbyte>().Should().Equal(int8F32.Values.ToArray<sbyte>());
        int8.RowAbsmax.ToArray<float>().Should().Equal(int8F32.RowAbsmax.ToArray<float>());
    }

    [Fact]
    public void A_non_finite_value_in_a_later_chunk_is_refused()
    {
        var values = new float[Rows * Cols];
        values[^3] = float.NaN;
        using var f32 = Tensor.FromArray(values, new Shape(Rows, Cols));
        using var bf16 = f32.To(DType.BF16);
        FluentActions.Invoking(() => GgmlQuantizer.Quantize(bf16, GgmlType.Q4_0)).Should().Throw<ArgumentException>().WithMessage("*non-finite*");
        FluentActions.Invoking(() => Nf4Quantizer.Quantize(bf16)).Should().Throw<ArgumentException>().WithMessage($"*non-finite*[{(Rows * Cols - 3) / 64 * 64}, {Rows * Cols})*");
        FluentActions.Invoking(() => Int8Quantizer.Quantize(bf16)).Should().Throw<ArgumentException>().WithMessage("*row 8199*non-finite*");
    }
}
