using System.Text;
using PureLlama.IO;
using PureLlama.Tensors;

namespace PureLlama.Tests.IO;

/// <summary>Quantized weights written under bitsandbytes' names and read back: components byte-equal, every bad component named.</summary>
public sealed class BitsAndBytesFormatTests
{
    private const string Module = "model.layers.0.mlp.down_proj";

    // A random NF4 tensor of an odd element count (a half-filled last byte, blocks crossing row ends).
    internal static Nf4Tensor RandomNf4(int rows, int cols, bool doubleQuant, int blockSize = 64, ulong seed = 7)
    {
        var rng = new Rng(seed);
        long n = (long)rows * cols, blocks = (n + blockSize - 1) / blockSize;
        byte[] Bytes(long count) { var b = new byte[count]; for (long i = 0; i < count; i++) b[i] = (byte)rng.NextInt(256); return b; }
        float[] Floats(int count, float lo, float hi) { var f = new float[count]; rng.FillUniform(f, lo, hi); return f; }
        var packed = Bytes((n + 1) / 2);
        if (n % 2 == 1) packed[^1] &= 0xF0; // the unused low nibble is 0
        var map = Floats(16, -1, 1); Array.Sort(map);
        var quantMap = Tensor.FromArray(map, new Shape(16));
        if (!doubleQuant)
            return new Nf4Tensor(new Shape(rows, cols), blockSize, Tensor.FromArray(packed, new Shape(packed.Length)), quantMap,
                Tensor.FromArray(Floats((int)blocks, 0.01f, 0.2f), new Shape((int)blocks)));
        int nested = (int)((blocks + 255) / 256);
        return new Nf4Tensor(new Shape(rows, cols), blockSize, Tensor.FromArray(packed, new Shape(packed.Length)), quantMap,
            Tensor.FromArray(Bytes(blocks), new Shape((int)blocks)), Tensor.FromArray(Floats(nested, 0.01f, 0.1f), new Shape(nested)),
            Tensor.FromArray(Floats(256, -1, 1), new Shape(256)), nestedOffset: 0.0123f);
    }

    internal static Int8Tensor RandomInt8(int rows, int cols, ulong seed = 9)
    {
        var rng = new Rng(seed);
        var q = new sbyte[rows * cols];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)(rng.NextInt(255) - 127);
        var scb = new float[rows];
        rng.FillUniform(scb, 0.05f, 2f);
        return new Int8Tensor(Tensor.FromArray(q, new Shape(rows, cols)), Tensor.FromArray(scb, new Shape(rows)));
    }

    private static void Write(string path, string module, QuantizedTensor w, Func<string, bool>? keep = null, Action<List<(string, Tensor)>>? edit = null)
    {
        var list = BitsAndBytesFormat.Serialize(module, w);
        try
        {
            var kept = list.Where(e => keep?.Invoke(e.Name) ?? true).ToList();
            edit?.Invoke(kept);
            SafeTensorsWriter.Write(path, kept);
        }
        finally { foreach (var (_, t) in list) t.Dispose(); }
    }

    private static void AssertSameComponents(QuantizedTensor a, QuantizedTensor b)
    {
        b.Format.Should().Be(a.Format);
        b.Shape.Should().Be(a.Shape);
        b.Components.Count.Should().Be(a.Components.Count);
        for (int i = 0; i < a.Components.Count; i++)
        {
            b.Components[i].DType.Should().Be(a.Components[i].DType);
            b.Components[i].Shape.Should().Be(a.Components[i].Shape);
            TempDir.Raw(b.Components[i]).Should().Equal(TempDir.Raw(a.Components[i]), $"component {i} of {a.Format}");
        }
    }

    [Theory]
    [InlineData(true, WeightLoading.Copied)]
    [InlineData(false, WeightLoading.Copied)]
    [InlineData(true, WeightLoading.Mapped)]
    public void Nf4RoundTripIsByteExact(bool doubleQuant, WeightLoading loading)
    {
        using var dir = new TempDir();
        using var w = RandomNf4(37, 301, doubleQuant); // n = 11137: odd, 175 blocks of 64
        Write(dir.File("q.safetensors"), Module, w);
        using var file = SafeTensorsFile.Open(dir.File("q.safetensors"), loading);
        file.Info(Module + ".weight").Shape.Should().Be(new Shape(5569, 1));
        file.Info(Module + ".weight").DTypeName.Should().Be("U8");
        file.Info(Module + ".weight.absmax").DTypeName.Should().Be(doubleQuant ? "U8" : "F32");
        file.Contains(Module + ".weight.nested_absmax").Should().Be(doubleQuant);
        using var read = (Nf4Tensor)BitsAndBytesFormat.Read(file, Module, new Shape(37, 301));
        AssertSameComponents(w, read);
        read.BlockSize.Should().Be(64);
        read.DoubleQuantized.Should().Be(doubleQuant);
        read.NestedOffset.Should().Be(w.NestedOffset);
        read.Name.Should().Be(Module + ".weight");
    }

    [Fact]
    public void Nf4QuantStateIsBitsAndBytesJson()
    {
        using var dir = new TempDir();
        using var w = RandomNf4(4, 96, doubleQuant: true, blockSize: 32);
        Write(dir.File("q.safetensors"), Module, w);
        using var file = SafeTensorsFile.Open(dir.File("q.safetensors"));
        using var state = file.GetTensor(Module + BitsAndBytesFormat.Nf4StateSuffix);
        Encoding.UTF8.GetString(state.ToArray<byte>()).Should().Be(
            "{\"quant_type\": \"nf4\", \"blocksize\": 32, \"dtype\": \"bfloat16\", \"shape\": [4, 96], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.0123}");
        using var read = (Nf4Tensor)BitsAndBytesFormat.Read(file, Module, new Shape(4, 96));
        read.BlockSize.Should().Be(32);
    }

    [Theory]
    [InlineData(WeightLoading.Copied)]
    [InlineData(WeightLoading.Mapped)]
    public void Int8RoundTripIsByteExact(WeightLoading loading)
    {
        using var dir = new TempDir();
        using var w = RandomInt8(13, 70);
        Write(dir.File("q.safetensors"), Module, w);
        using var file = SafeTensorsFile.Open(dir.File("q.safetensors"), loading);
        file.Info(Module + ".SCB").DTypeName.Should().Be("F32");
        file.Info(Module + ".weight_format").Shape.Rank.Should().Be(0);
        using var read = BitsAndBytesFormat.Read(file, Module, new Shape(13, 70));
        AssertSameComponents(w, read);
    }

    [Theory]
    [InlineData(".weight.absmax")]
    [InlineData(".weight.quant_map")]
    [InlineData(".weight.nested_absmax")]
    [InlineData(".weight.nested_quant_map")]
    [InlineData(".weight")]
    public void MissingNf4ComponentIsNamed(string suffix)
    {
        using var dir = new TempDir();
        using var w = RandomNf4(8, 64, doubleQuant: true);
        Write(dir.File("q.safetensors"), Module, w, keep: n => n != Module + suffix);
        using var file = SafeTensorsFile.Open(dir.File("q.safetensors"));
        var act = () => BitsAndBytesFormat.Read(file, Module, new Shape(8, 64));
        act.Should().Throw<InvalidDataException>().WithMessage($"*'{Module}{suffix}'*");
    }

    [Fact]
    public void MissingInt8ScaleIsNamed()
    {
        using var dir = new TempDir();
        using var w = RandomInt8(3, 5);
        Write(dir.File("q.safetensors"), Module, w, keep: n => n != Module + ".weight");
        using var file = SafeTensorsFile.Open(dir.File("q.safetensors"));
        var act = () => BitsAndBytesFormat.Read(file, Module, new Shape(3, 5));
        act.Should().Throw<InvalidDataException>().WithMessage($"*'{Module}.weight'*missing*");
    }

    // Replaces one component by a tensor of the caller's making, then expects an error naming it and the file.
    private static void AssertCorruptNamed(QuantizedTensor w, Shape expected, string suffix, Func<Tensor> replacement, string messagePart)
    {
        using var dir = new TempDir();
        string path = dir.File("q.safetensors");
        Write(path, Module, w, edit: list =>
        {
            int i = list.FindIndex(e => e.Item1 == Module + suffix);
            list[i] = (Module + suffix, replacement());
        });
        using var file = SafeTensorsFile.Open(path);
        var act = () => BitsAndBytesFormat.Read(file, Module, expected);
        act.Should().Throw<InvalidDataException>().WithMessage($"*'{Module}{suffix}'*{path}*{messagePart}*");
    }

    private static Tensor Json(string s) { var b = Encoding.UTF8.GetBytes(s); return Tensor.FromArray(b, new Shape(b.Length)); }

    [Fact]
    public void CorruptNf4ComponentsAreNamed()
    {
        using var w = RandomNf4(8, 64, doubleQuant: true);
        var shape = new Shape(8, 64);
        AssertCorruptNamed(w, shape, ".weight.absmax", () => Tensor.Zeros(new Shape(8), DType.F32), "U8 was expected");
        AssertCorruptNamed(w, shape, ".weight.quant_map", () => Tensor.Zeros(new Shape(15), DType.F32), "[16] was expected");
        AssertCorruptNamed(w, shape, ".weight.quant_map", () => Tensor.FromArray(Enumerable.Repeat(float.NaN, 16).ToArray(), new Shape(16)), "NaN");
        AssertCorruptNamed(w, shape, ".weight.nested_absmax", () => Tensor.FromArray(new[] { float.PositiveInfinity }, new Shape(1)), "finite");
        AssertCorruptNamed(w, shape, BitsAndBytesFormat.Nf4StateSuffix, () => Json("{\"quant_type\": \"nf4\", \"blocksize\": 64"), "valid JSON");
        AssertCorruptNamed(w, shape, BitsAndBytesFormat.Nf4StateSuffix, () => Json("{\"quant_type\": \"fp4\", \"blocksize\": 64}"), "quant_type 'fp4'");
        AssertCorruptNamed(w, shape, BitsAndBytesFormat.Nf4StateSuffix,
            () => Json("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [64, 8], \"nested_blocksize\": 256, \"nested_offset\": 0.0}"), "[8, 64]");
        AssertCorruptNamed(w, shape, BitsAndBytesFormat.Nf4StateSuffix,
            () => Json("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [8, 64], \"nested_blocksize\": 256}"), "nested_offset");
    }

    [Fact]
    public void CorruptInt8ComponentsAreNamed()
    {
        using var w = RandomInt8(4, 6);
        var shape = new Shape(4, 6);
        AssertCorruptNamed(w, shape, ".SCB", () => Tensor.FromArray(new[] { 1f, float.NaN, 1f, 1f }, new Shape(4)), "NaN");
        AssertCorruptNamed(w, shape, ".SCB", () => Tensor.Zeros(new Shape(4), DType.BF16), "F32 was expected");
        AssertCorruptNamed(w, shape, ".weight", () => Tensor.Zeros(new Shape(6, 4), DType.I8), "[4, 6] was expected");
        AssertCorruptNamed(w, shape, ".weight_format", () => Tensor.FromArray(new byte[] { 2 }, new Shape()), "row-major");
    }

    [Fact]
    public void Fp4AndDenseModulesAreRefusedByName()
    {
        using var dir = new TempDir();
        SafeTensorsWriter.Write(dir.File("q.safetensors"), [(Module + BitsAndBytesFormat.Fp4StateSuffix, Json("{}")), ("other.weight", Tensor.Zeros(new Shape(2, 2)))]);
        using var file = SafeTensorsFile.Open(dir.File("q.safetensors"));
        FluentActions.Invoking(() => BitsAndBytesFormat.Read(file, Module, new Shape(2, 2)))
            .Should().Throw<InvalidDataException>().WithMessage("*FP4*");
        FluentActions.Invoking(() => BitsAndBytesFormat.Read(file, "other", new Shape(2, 2)))
            .Should().Throw<InvalidDataException>().WithMessage("*'other' is not stored quantized*");
    }
}
