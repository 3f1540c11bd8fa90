using PureLlama.IO;

namespace PureLlama.Tests.IO;

/// <summary>Corrupt and lying safetensors files: each a clear <see cref="InvalidDataException"/> naming file and tensor.</summary>
public class SafeTensorsBadInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Good = """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}}""";

    private static void ShouldFail(string path, params string[] inMessage)
    {
        foreach (var loading in new[] { WeightLoading.Copied, WeightLoading.Mapped })
        {
            var act = () => SafeTensorsFile.Open(path, loading).Dispose();
            var e = act.Should().Throw<InvalidDataException>().Which;
            e.Message.Should().Contain(path);
            foreach (var s in inMessage) e.Message.Should().Contain(s);
        }
    }

    [Fact]
    public void A_well_formed_crafted_file_opens()
    {
        string path = _dir.RawSafeTensors("ok.safetensors", Good, 32);
        foreach (var loading in new[] { WeightLoading.Copied, WeightLoading.Mapped })
        {
            using var f = SafeTensorsFile.Open(path, loading);
            using var a = f.GetTensor("a");
            TempDir.Raw(a).Should().Equal(Enumerable.Range(0, 24).Select(i => (byte)i));
            using var b = f.GetTensor("b");
            b.ToArray<ushort>()[0].Should().Be((ushort)(24 | 25 << 8));
        }
    }

    [Fact]
    public void Truncated_file_names_the_file_and_tensor()
        => ShouldFail(_dir.RawSafeTensors("t.safetensors", Good, 30), "'b'", "truncated");

    [Fact]
    public void File_shorter_than_the_length_prefix_is_rejected()
    {
        string path = _dir.File("tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        ShouldFail(path, "truncated");
    }

    [Fact]
    public void Header_length_past_the_end_is_rejected()
        => ShouldFail(_dir.RawSafeTensors("h.safetensors", Good, 32, declaredHeaderLength: 10_000), "past the end");

    [Fact]
    public void Absurd_header_length_is_rejected()
        => ShouldFail(_dir.RawSafeTensors("h2.safetensors", Good, 32, declaredHeaderLength: ulong.MaxValue), "header");

    [Fact]
    public void Offsets_past_the_end_name_the_tensor()
        => ShouldFail(_dir.RawSafeTensors("o.safetensors",
            """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[1000,1008]}}""", 32), "'b'", "past the end");

    [Fact]
    public void Overlapping_tensors_are_rejected()
        => ShouldFail(_dir.RawSafeTensors("ov.safetensors",
            """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[20,28]}}""", 32), "'a'", "'b'", "overlap");

    [Fact]
    public void Size_mismatch_between_shape_and_offsets_is_rejected()
        => ShouldFail(_dir.RawSafeTensors("sz.safetensors",
            """{"a":{"dtype":"F32","shape":[2,4],"data_offsets":[0,24]}}""", 24), "'a'", "[2, 4]", "32");

    [Fact]
    public void Reversed_offsets_are_rejected()
        => ShouldFail(_dir.RawSafeTensors("rev.safetensors", """{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}""", 8), "'a'", "data_offsets");

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]""", "not valid JSON")]
    [InlineData("""[1,2,3]""", "not an object")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""", "twice")]
    [InlineData("""{"a":{"dtype":"F32","data_offsets":[0,24]}}""", "'shape'")]
    [InlineData("""{"a":{"shape":[6],"data_offsets":[0,24]}}""", "'dtype'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[6]}}""", "data_offsets")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}}""", "dimension 0")]
    [InlineData("""{"a":{"dtype":"F32","shape":[6],"data_offsets":["0",24]}}""", "data_offsets")]
    [InlineData("""{"a":7}""", "'a'")]
    [InlineData("""{"__metadata__":{"format":5},"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}""", "__metadata__")]
    public void Malformed_header_json_is_rejected(string header, string inMessage)
        => ShouldFail(_dir.RawSafeTensors("j.safetensors", header, 24), inMessage);

    [Fact]
    public void Invalid_utf8_header_is_rejected()
    {
        string path = _dir.RawSafeTensors("u.safetensors", "{\"a\":1}", 0);
        var bytes = File.ReadAllBytes(path);
        bytes[10] = 0xFF;
        File.WriteAllBytes(path, bytes);
        ShouldFail(path, "JSON");
    }

    [Fact]
    public void Unknown_dtype_names_the_tensor_and_dtype()
        => ShouldFail(_dir.RawSafeTensors("d.safetensors", """{"w":{"dtype":"Q7","shape":[6],"data_offsets":[0,24]}}""", 24), "'w'", "Q7");

    [Fact]
    public void Known_but_unsupported_dtype_parses_and_fails_only_when_loaded()
    {
        string path = _dir.RawSafeTensors("f64.safetensors",
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"d":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}""", 24);
        foreach (var loading in new[] { WeightLoading.Copied, WeightLoading.Mapped })
        {
            using var f = SafeTensorsFile.Open(path, loading);
            f.Info("d").IsSupported.Should().BeFalse();
            using (var a = f.GetTensor("a")) a.Numel.Should().Be(2);
            var act = () => f.GetTensor("d");
            act.Should().Throw<InvalidDataException>().WithMessage("*Unsupported dtype F64*'d'*" + Path.GetFileName(path) + "*");
        }
    }

    [Fact]
    public void Missing_tensor_is_an_argument_error_naming_the_file()
    {
        using var f = SafeTensorsFile.Open(_dir.RawSafeTensors("ok.safetensors", Good, 32));
        var act = () => f.GetTensor("nope");
        act.Should().Throw<ArgumentException>().WithMessage("*ok.safetensors*'nope'*");
    }

    [Fact]
    public void Missing_file_is_file_not_found()
    {
        var act = () => SafeTensorsFile.Open(_dir.File("absent.safetensors"));
        act.Should().Throw<FileNotFoundException>().WithMessage("*absent.safetensors*");
    }

    [Fact]
    public void Metadata_and_zero_sized_tensors_are_accepted()
    {
        string path = _dir.RawSafeTensors("m.safetensors",
            """{"__metadata__":{"format":"pt"},"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"s":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}""", 4);
        foreach (var loading in new[] { WeightLoading.Copied, WeightLoading.Mapped })
        {
            using var f = SafeTensorsFile.Open(path, loading);
            f.Metadata.Should().Contain("format", "pt");
            using var e = f.GetTensor("e");
            e.Numel.Should().Be(0);
            using var s = f.GetTensor("s");
            s.ToArray<int>().Should().Equal(0x03020100);
        }
    }
}
