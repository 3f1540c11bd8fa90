using PureLlama.Kernels.Reference;
using PureLlama.Quantization;
using PureLlama.Tensors;

namespace PureLlama.Tests.Quantization;

/// <summary>NF4 and INT8 quantizers: packing order, per-element error bounds, zero blocks, bad inputs.</summary>
public sealed class QuantizerTests
{
    public static TheoryData<int, int, bool, bool> Nf4Cases()
    {
        var d = new TheoryData<int, int, bool, bool>();
        foreach (var (r, c) in new[] { (3, 37), (5, 100), (130, 65), (64, 512), (300, 300) })
            foreach (bool dq in new[] { true, false })
                foreach (bool heavy in new[] { false, true })
                    d.Add(r, c, dq, heavy);
        return d;
    }

    // Uniform in [−1, 1], or heavy-tailed (normal / sqrt(uniform), Student-t-like with outliers).
    private static float[] Weights(int n, bool heavy, int seed)
    {
        var rng = new Random(seed);
        var w = new float[n];
        for (int i = 0; i < n; i++)
        {
            if (!heavy) { w[i] = (float)(rng.NextDouble() * 2 - 1); continue; }
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            w[i] = (float)(0.02 * g / Math.Sqrt(rng.NextDouble() + 1e-3));
        }
        return w;
    }

    [Theory, MemberData(nameof(Nf4Cases))]
    public void Nf4_error_per_element_is_within_half_a_code_gap_plus_the_absmax_error(int rows, int cols, bool doubleQuant, bool heavy)
    {
        var w = Weights(rows * cols, heavy, rows * 31 + cols);
        using var dense = Tensor.FromArray(w, new Shape(rows, cols));
        using var q = Nf4Quantizer.Quantize(dense, doubleQuant: doubleQuant);
        q.DoubleQuantized.Should().Be(doubleQuant);
        var packed = q.Packed.ToArray<byte>();
        var map = q.QuantMap.ToArray<float>();
        double[] absHat = doubleQuant
            ? ReferenceQuant.NestedAbsmax(q.Absmax.ToArray<byte>(), q.NestedAbsmax!.ToArray<float>(), q.NestedQuantMap!.ToArray<float>(), q.NestedOffset, 256)
            : Array.ConvertAll(q.Absmax.ToArray<float>(), v => (double)v);
        var wHat = ReferenceQuant.DequantizeNf4(packed, map, absHat, 64, rows, cols);
        for (int e = 0; e < w.Length; e++)
        {
            int b = e / 64;
            double a = 0;
            for (int i = b * 64; i < Math.Min(w.Length, b * 64 + 64); i++) a = Math.Max(a, Math.Abs(w[i]));
            int code = (e & 1) == 0 ? packed[e >> 1] >> 4 : packed[e >> 1] & 15;
            double gap = Math.Max(code > 0 ? map[code] - map[code - 1] : 0, code < 15 ? map[code + 1] - map[code] : 0) / 2;
            double bound = gap * a + Math.Abs(a - absHat[b]) * Math.Abs(map[code]) + 1e-6 * a;
            Math.Abs(w[e] - wHat[e]).Should().BeLessThanOrEqualTo(bound, $"element {e} (block {b}, code {code})");
        }
    }

    [Fact]
    public void Nf4_packs_the_first_element_in_the_high_nibble_and_pads_odd_counts()
    {
        // One block, absmax 1: −1 → code 0, 1 → 15, 0 → 7.
        using var dense = Tensor.FromArray(new[] { -1f, 1f, 0f }, new Shape(1, 3));
        using var q = Nf4Quantizer.Quantize(dense, doubleQuant: false);
        q.Packed.ToArray<byte>().Should().Equal((byte)0x0F, (byte)0x70);
        q.Absmax.ToArray<float>().Should().Equal(1f);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(18)]
    [InlineData(7)]
    [InlineData(256)]
    public void Nf4_block_codes_equal_the_per_element_encoding_including_exact_thresholds(int blockSize)
    {
        // The quantizer encodes 16 elements at a time with AVX-512 where present; every code must be the scalar
        // definition's: number of thresholds t with clamp(w / absmax, −1, 1) > t. Values exactly at a threshold
        // times the absmax (ties), at ±absmax, and zero blocks are planted.
        var rng = new Random(blockSize);
        int n = blockSize * 37 + 5;
        var w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
        var t = Nf4Codebook.Thresholds;
        for (int b = 0; b * blockSize < n; b++)
        {
            int s = b * blockSize, e = Math.Min(n, s + blockSize);
            if (b % 5 == 3) { Array.Clear(w, s, e - s); continue; }
            w[s] = b % 2 == 0 ? 1f : -1f;                        // absmax exactly 1: x = w, ties land on the thresholds
            for (int i = s + 1; i < e; i += 3) w[i] = t[(i + b) % t.Length];
        }
        var (packed, absmax) = Nf4Quantizer.QuantizeBlocks(w, blockSize);
        for (int i = 0; i < n; i++)
        {
            float a = absmax[i / blockSize];
            int expected = a == 0f ? 7 : Nf4Codebook.Encode(Math.Clamp(w[i] / a, -1f, 1f));
            int got = (i & 1) == 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 15;
            got.Should().Be(expected, $"element {i} (w = {w[i]}, block absmax {a})");
        }
    }

    [Fact]
    public void Nf4_all_zero_blocks_dequantize_to_zero_without_nan()
    {
        var w = new float[3 * 100];
        for (int i = 128; i < 200; i++) w[i] = i % 2 == 0 ? 0.5f : -0.25f;   // blocks 0, 1 and 3, 4 are zero
        foreach (bool dq in new[] { true, false })
        {
            using var dense = Tensor.FromArray(w, new Shape(3, 100));
            using var q = Nf4Quantizer.Quantize(dense, doubleQuant: dq);
            using var back = Tensor.Empty(new Shape(3, 100));
            back.Backend.Dequantize(q, back);
            var got = back.ToFloatArray();
            got.Should().OnlyContain(v => float.IsFinite(v));
            for (int i = 0; i < 64; i++) got[i].Should().Be(0f, "a zero block with plain absmax stays exactly zero (dq adds the offset to absmax, times code 0)");
        }
        using var zeros = Tensor.FromArray(new float[64 * 300], new Shape(300, 64));
        using var qz = Nf4Quantizer.Quantize(zeros);
        qz.NestedAbsmax!.ToArray<float>().Should().OnlyContain(v => v == 0f);
        using var z = Tensor.Empty(new Shape(300, 64));
        z.Backend.Dequantize(qz, z);
        z.ToFloatArray().Should().OnlyContain(v => v == 0f);
    }

    [Theory]
    [InlineData(3, 37, false)]
    [InlineData(130, 65, true)]
    [InlineData(64, 512, false)]
    public void Int8_error_is_at_most_half_a_step_of_the_row_scale(int rows, int cols, bool heavy)
    {
        var w = Weights(rows * cols, heavy, rows + cols);
        for (int c = 0; c < cols; c++) w[c] = 0f;                            // a zero row
        using var dense = Tensor.FromArray(w, new Shape(rows, cols));
        using var q = Int8Quantizer.Quantize(dense);
        var values = q.Values.ToArray<sbyte>();
        var scb = q.RowAbsmax.ToArray<float>();
        scb[0].Should().Be(0f);
        values.Should().OnlyContain(v => v >= -127);
        var wHat = ReferenceQuant.DequantizeInt8(values, scb, rows, cols);
        for (int e = 0; e < w.Length; e++)
            Math.Abs(w[e] - wHat[e]).Should().BeLessThanOrEqualTo(scb[e / cols] / 254.0 * (1 + 1e-5) + 1e-12, $"element {e}");
    }

    [Fact]
    public void Int8_rounds_half_to_even()
    {
        // Row absmax 127 → q = round(w): 2.5 → 2, 3.5 → 4, −2.5 → −2.
        using var dense = Tensor.FromArray(new[] { 127f, 2.5f, 3.5f, -2.5f }, new Shape(1, 4));
        using var q = Int8Quantizer.Quantize(dense);
        q.Values.ToArray<sbyte>().Should().Equal((sbyte)127, (sbyte)2, (sbyte)4, (sbyte)-2);
    }

    [Fact]
    public void Bad_inputs_name_the_problem()
    {
        using var vector = Tensor.FromArray(new float[8], new Shape(8));
        FluentActions.Invoking(() => Nf4Quantizer.Quantize(vector)).Should().Throw<ArgumentException>().WithMessage("*rank 2*[8]*");
        FluentActions.Invoking(() => Int8Quantizer.Quantize(vector)).Should().Throw<ArgumentException>().WithMessage("*rank 2*");
        using var ints = Tensor.FromArray(new int[8], new Shape(2, 4));
        FluentActions.Invoking(() => Nf4Quantizer.Quantize(ints)).Should().Throw<ArgumentException>().WithMessage("*F32, BF16 or F16*I32*");
        using var ok = Tensor.FromArray(new float[8], new Shape(2, 4));
        FluentActions.Invoking(() => Nf4Quantizer.Quantize(ok, blockSize: 63)).Should().Throw<ArgumentException>().WithMessage("*even*63*");
        using var nan = Tensor.FromArray(new[] { 1f, float.NaN, 0f, 0f }, new Shape(2, 2));
        FluentActions.Invoking(() => Nf4Quantizer.Quantize(nan)).Should().Throw<ArgumentException>().WithMessage("*non-finite*");
    }
}
