using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using PureLlama.IO;
using PureLlama.Tensors;

namespace PureLlama.Tests.IO;

public class SafeTensorsWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static float[] Ramp(int n, float scale = 0.25f) => Enumerable.Range(0, n).Select(i => (i - n / 2) * scale).ToArray();

    [Theory]
    [InlineData(WeightLoading.Copied)]
    [InlineData(WeightLoading.Mapped)]
    public void Round_trip_keeps_names_shapes_dtypes_values_and_metadata(WeightLoading loading)
    {
        using var f32 = Tensor.FromArray(Ramp(12), new Shape(3, 4));
        using var bf16 = Tensor.FromArrayAs(Ramp(5), new Shape(5), DType.BF16);
        using var f16 = Tensor.FromArrayAs(Ramp(3), new Shape(1, 3), DType.F16);
        using var i32 = Tensor.FromArray(new[] { 7, -1, int.MaxValue }, new Shape(3));
        using var u8 = Tensor.FromArray(new byte[] { 1, 2, 255 }, new Shape(3));
        using var i8 = Tensor.FromArray(new sbyte[] { -128, 0, 127 }, new Shape(3));
        using var scalar = Tensor.Scalar(3.5f);
        using var empty = Tensor.Empty(new Shape(0, 7));
        using var source = Tensor.FromArray(Ramp(24), new Shape(4, 6));
        using var transposed = source.Transpose(0, 1); // a non-contiguous view is written in row-major order
        var all = new (string, Tensor)[]
        {
            ("z.f32", f32), ("b.bf16", bf16), ("f16", f16), ("ints", i32), ("bytes", u8), ("sbytes", i8),
            ("scalar", scalar), ("empty", empty), ("t", transposed),
        };
        string path = _dir.File("rt.safetensors");
        SafeTensorsWriter.Write(path, all, new Dictionary<string, string> { ["format"] = "pt", ["by"] = "PureLlama" });
        File.Exists(path + ".tmp").Should().BeFalse();

        using var file = SafeTensorsFile.Open(path, loading);
        file.Metadata.Should().BeEquivalentTo(new Dictionary<string, string> { ["format"] = "pt", ["by"] = "PureLlama" });
        file.Tensors.Select(t => t.Name).Should().Equal(all.Select(a => a.Item1).OrderBy(n => n, StringComparer.Ordinal));
        foreach (var (name, original) in all)
        {
            using var back = file.GetTensor(name);
            back.Shape.Should().Be(original.Shape, name);
            back.DType.Should().Be(original.DType, name);
            TempDir.Raw(back).Should().Equal(TempDir.Raw(original), name);
            if (loading == WeightLoading.Mapped && back.Numel > 0)
                back.Storage.Should().BeOfType<MappedStorage>("every tensor starts at a multiple of its element size, so none needs a copy");
        }
    }

    [Fact]
    public void Header_is_hugging_face_shaped_sorted_and_8_byte_aligned()
    {
        using var a = Tensor.FromArrayAs(Ramp(3), new Shape(3), DType.BF16);
        using var b = Tensor.FromArray(Ramp(2), new Shape(2));
        string path = _dir.File("h.safetensors");
        SafeTensorsWriter.Write(path, [("b", b), ("a", a)]);
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        ((8 + n) % 8).Should().Be(0);
        string json = Encoding.UTF8.GetString(bytes, 8, (int)n);
        json.TrimEnd(' ').Should().NotContain(" ", "padding is only trailing spaces");
        using var doc = JsonDocument.Parse(json);
        doc.RootElement.EnumerateObject().Select(p => p.Name).Should().Equal("a", "b");
        // Data: the 4-byte F32 first, then the BF16 — packed with no hole.
        doc.RootElement.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).Should().Equal(0L, 8L);
        doc.RootElement.GetProperty("a").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).Should().Equal(8L, 14L);
        doc.RootElement.GetProperty("a").GetProperty("dtype").GetString().Should().Be("BF16");
        bytes.Length.Should().Be((int)(8 + n + 14));
    }

    [Fact]
    public void Overwrites_an_existing_file()
    {
        string path = _dir.File("o.safetensors");
        using var a = Tensor.FromArray(Ramp(4), new Shape(4));
        using var b = Tensor.FromArray(Ramp(2), new Shape(2));
        SafeTensorsWriter.Write(path, [("a", a)]);
        SafeTensorsWriter.Write(path, [("b", b)]);
        using var f = SafeTensorsFile.Open(path);
        f.Tensors.Select(t => t.Name).Should().Equal("b");
    }

    private static IEnumerable<(string, Tensor)> ThrowingMidway(Tensor first)
    {
        yield return ("first", first);
        throw new IOException("source failed midway");
    }

    [Fact]
    public void A_failed_write_leaves_the_original_file_intact()
    {
        string path = _dir.File("keep.safetensors");
        using var a = Tensor.FromArray(Ramp(8), new Shape(8));
        SafeTensorsWriter.Write(path, [("a", a)]);
        var original = File.ReadAllBytes(path);

        var throwing = () => SafeTensorsWriter.Write(path, ThrowingMidway(a));
        throwing.Should().Throw<IOException>().WithMessage("source failed midway");
        File.ReadAllBytes(path).Should().Equal(original);

        // A disposed tensor is rejected before the file is touched.
        var b = Tensor.FromArray(Ramp(8), new Shape(8));
        b.Dispose();
        var disposed = () => SafeTensorsWriter.Write(path, [("a", a), ("b", b)]);
        disposed.Should().Throw<ArgumentException>().WithMessage("*'b'*disposed*");
        File.ReadAllBytes(path).Should().Equal(original);

        // A rename that cannot happen (the target is a folder): the temporary file is removed.
        string folder = _dir.File("dir.safetensors");
        Directory.CreateDirectory(folder);
        var rename = () => SafeTensorsWriter.Write(folder, [("a", a)]);
        rename.Should().Throw<IOException>();
        File.Exists(folder + ".tmp").Should().BeFalse();
        File.ReadAllBytes(path).Should().Equal(original);
    }

    [Fact]
    public void Bad_arguments_are_argument_errors()
    {
        using var a = Tensor.FromArray(Ramp(2), new Shape(2));
        string path = _dir.File("bad.safetensors");
        ((Action)(() => SafeTensorsWriter.Write(path, [("a", a), ("a", a)]))).Should().Throw<ArgumentException>().WithMessage("*'a'*twice*");
        ((Action)(() => SafeTensorsWriter.Write(path, [("", a)]))).Should().Throw<ArgumentException>();
        ((Action)(() => SafeTensorsWriter.Write(path, [("__metadata__", a)]))).Should().Throw<ArgumentException>();
        File.Exists(path).Should().BeFalse();
    }
}
