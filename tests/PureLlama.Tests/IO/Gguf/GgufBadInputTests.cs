using System.Text;
using PureLlama.IO;
using PureLlama.IO.Gguf;
using PureLlama.Llama;
using PureLlama.Tensors;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>Hostile GGUF files: each one clear <see cref="InvalidDataException"/> naming the file and the field, never a crash or a huge allocation.</summary>
public sealed class GgufBadInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a GGUF file field by field so each field can be made wrong.</summary>
    private sealed class Raw
    {
        private readonly MemoryStream _ms = new();
        private readonly BinaryWriter _w;
        public Raw() => _w = new BinaryWriter(_ms);
        public Raw U32(uint v) { _w.Write(v); return this; }
        public Raw U64(ulong v) { _w.Write(v); return this; }
        public Raw Bytes(params byte[] b) { _w.Write(b); return this; }
        public Raw Str(string s) { var b = Encoding.UTF8.GetBytes(s); _w.Write((ulong)b.Length); _w.Write(b); return this; }
        public Raw Header(ulong tensors, ulong kvs, uint version = 3) => U32(GgufHeaderReader.Magic).U32(version).U64(tensors).U64(kvs);
        public Raw KvU32(string key, uint v) => Str(key).U32((uint)GgufValueType.UInt32).U32(v);
        public Raw Tensor(string name, uint type, ulong offset, params ulong[] dims)
        {
            Str(name).U32((uint)dims.Length);
            foreach (var d in dims) U64(d);
            return U32(type).U64(offset);
        }
        public Raw PadTo(int alignment) { while (_ms.Length % alignment != 0) _w.Write((byte)0); return this; }
        public Raw Data(int bytes) { for (int i = 0; i < bytes; i++) _w.Write((byte)i); return this; }
        public byte[] ToArray() { _w.Flush(); return _ms.ToArray(); }
    }

    private string Write(byte[] bytes, string name = "bad.gguf")
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private void ShouldFail(byte[] bytes, params string[] inMessage)
    {
        string path = Write(bytes);
        var act = () => GgufFile.Open(path, WeightLoading.Mapped).Dispose();
        var e = act.Should().Throw<InvalidDataException>().Which;
        e.Message.Should().Contain(path);
        foreach (var s in inMessage) e.Message.Should().Contain(s);
    }

    // One F32 tensor "t" [8] and one key: a valid file (alignment 32).
    private static Raw ValidPrefix() => new Raw().Header(1, 1).KvU32("general.k", 1).Tensor("t", 0, 0, 8).PadTo(32);
    private static byte[] Valid() => ValidPrefix().Data(32).ToArray();

    [Fact]
    public void A_well_formed_crafted_file_opens()
    {
        using var f = GgufFile.Open(Write(Valid()), WeightLoading.Mapped);
        f.Header.Version.Should().Be(3u);
        f.Header.RequiredInteger("general.k").Should().Be(1);
        f.Tensors.Should().ContainSingle().Which.Dims.Should().Equal(8L);
        f.Bytes(f.Tensors[0]).ToArray().Should().Equal(Enumerable.Range(0, 32).Select(i => (byte)i));
    }

    [Fact]
    public void Every_truncation_is_one_clear_error()
    {
        var bytes = Valid();
        for (int n = 0; n < bytes.Length; n++)
        {
            var act = () => GgufHeaderReader.Parse(bytes[..n], "cut.gguf");
            act.Should().Throw<InvalidDataException>($"a file cut to {n} bytes").Which.Message.Should().Contain("cut.gguf");
        }
    }

    [Fact]
    public void Fixture_random_byte_flips_give_a_named_error_or_a_valid_file()
    {
        string dir = GgufFixtures.Dir(null);
        var original = File.ReadAllBytes(Path.Combine(dir, "random-q4_k_m.gguf"));
        var header = GgufHeaderReader.Parse(original, "random-q4_k_m.gguf");
        var rng = new Random(20251206);
        int failures = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            var bytes = (byte[])original.Clone();
            for (int k = 0; k < 1 + trial % 4; k++) bytes[rng.Next((int)header.DataOffset)] = (byte)rng.Next(256); // in the header
            try { GgufHeaderReader.Parse(bytes, "flipped.gguf"); }
            catch (InvalidDataException e) { e.Message.Should().Contain("flipped.gguf"); failures++; }
        }
        failures.Should().BeGreaterThan(0);
    }

    [Fact]
    public void Not_a_gguf_file() => ShouldFail(Encoding.ASCII.GetBytes("{\"not\": \"gguf\"}"), "not a GGUF file");

    [Theory]
    [InlineData(1u, "version 1")]
    [InlineData(7u, "version 7")]
    [InlineData(0x03000000u, "big-endian")]
    public void Unsupported_versions(uint version, string message) => ShouldFail(new Raw().Header(0, 0, version).ToArray(), message);

    [Fact]
    public void Huge_kv_count() => ShouldFail(new Raw().Header(0, ulong.MaxValue / 2).ToArray(), "kv_count");

    [Fact]
    public void Huge_tensor_count() => ShouldFail(new Raw().Header(1UL << 60, 0).ToArray(), "tensor_count");

    [Fact]
    public void Huge_string_length() => ShouldFail(new Raw().Header(0, 1).U64(1UL << 62).Bytes(new byte[16]).ToArray(), "metadata entry 0", "declares");

    [Fact]
    public void Huge_array_count() =>
        ShouldFail(new Raw().Header(0, 1).Str("a").U32((uint)GgufValueType.Array).U32((uint)GgufValueType.UInt64).U64(1UL << 40).ToArray(), "metadata key 'a'", "elements");

    [Fact]
    public void Unknown_value_type() => ShouldFail(new Raw().Header(0, 1).Str("k").U32(13).U32(0).ToArray(), "metadata key 'k'", "value type 13");

    [Fact]
    public void Unknown_array_element_type() =>
        ShouldFail(new Raw().Header(0, 1).Str("k").U32((uint)GgufValueType.Array).U32(99).U64(0).ToArray(), "metadata key 'k'", "value type 99");

    [Fact]
    public void Arrays_nested_too_deep()
    {
        var raw = new Raw().Header(0, 1).Str("deep").U32((uint)GgufValueType.Array);
        for (int i = 0; i < 10; i++) raw.U32((uint)GgufValueType.Array).U64(1);
        ShouldFail(raw.U32((uint)GgufValueType.UInt8).U64(0).ToArray(), "'deep'", "nests arrays");
    }

    [Fact]
    public void Bool_other_than_0_or_1() =>
        ShouldFail(new Raw().Header(0, 1).Str("b").U32((uint)GgufValueType.Bool).Bytes(2).ToArray(), "'b'", "bool");

    [Fact]
    public void Key_that_is_not_utf8() =>
        ShouldFail(new Raw().Header(0, 1).U64(2).Bytes(0xC3, 0x28).U32((uint)GgufValueType.UInt8).Bytes(0).ToArray(), "UTF-8");

    [Fact]
    public void Duplicate_key() => ShouldFail(new Raw().Header(0, 2).KvU32("x", 1).KvU32("x", 2).ToArray(), "'x'", "twice");

    [Fact]
    public void Duplicate_tensor() =>
        ShouldFail(new Raw().Header(2, 0).Tensor("t", 0, 0, 8).Tensor("t", 0, 32, 8).PadTo(32).Data(64).ToArray(), "'t'", "twice");

    [Theory]
    [InlineData(99u, "ggml type 99")]
    [InlineData(13u, "Q5_K")]
    public void Unknown_or_unsupported_tensor_type(uint type, string message) =>
        ShouldFail(new Raw().Header(1, 0).Tensor("w", type, 0, 256).PadTo(32).Data(512).ToArray(), "tensor 'w'", message);

    [Fact]
    public void Offset_not_aligned() => ShouldFail(new Raw().Header(1, 0).Tensor("t", 0, 4, 8).PadTo(32).Data(64).ToArray(), "tensor 't'", "alignment");

    [Fact]
    public void Offset_past_the_end() => ShouldFail(new Raw().Header(1, 0).Tensor("t", 0, 1UL << 40, 8).PadTo(32).Data(32).ToArray(), "tensor 't'", "data section");

    [Fact]
    public void Overlapping_tensors() =>
        ShouldFail(new Raw().Header(2, 0).Tensor("a", 0, 0, 16).Tensor("b", 0, 32, 8).PadTo(32).Data(96).ToArray(), "'a'", "'b'", "overlap");

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(1u << 31)]
    public void Bad_alignment(uint alignment) =>
        ShouldFail(new Raw().Header(0, 1).KvU32("general.alignment", alignment).ToArray(), "general.alignment", "power of two");

    [Fact]
    public void Alignment_of_the_wrong_type() =>
        ShouldFail(new Raw().Header(0, 1).Str("general.alignment").U32((uint)GgufValueType.Int32).U32(32).ToArray(), "general.alignment", "UINT32");

    [Fact]
    public void A_non_default_alignment_is_honoured()
    {
        var bytes = new Raw().Header(1, 1).KvU32("general.alignment", 64).Tensor("t", 0, 0, 8).PadTo(64).Data(32).ToArray();
        using var f = GgufFile.Open(Write(bytes), WeightLoading.Mapped);
        f.Header.Alignment.Should().Be(64);
        (f.Header.DataOffset % 64).Should().Be(0);
    }

    [Theory]
    [InlineData(new ulong[0], "dimensions")]
    [InlineData(new ulong[] { 1, 1, 1, 1, 1 }, "dimensions")]
    [InlineData(new ulong[] { 1UL << 40 }, "larger than")]
    [InlineData(new ulong[] { 1UL << 30, 1UL << 30, 1UL << 30, 1UL << 30 }, "64 bits")]
    public void Bad_dimensions(ulong[] dims, string message) =>
        ShouldFail(new Raw().Header(1, 0).Tensor("t", 0, 0, dims).PadTo(32).Data(32).ToArray(), "tensor 't'", message);

    [Fact]
    public void Row_not_a_whole_number_of_blocks() =>
        ShouldFail(new Raw().Header(1, 0).Tensor("q", 8, 0, 33).PadTo(32).Data(64).ToArray(), "tensor 'q'", "blocks");

    [Fact]
    public void A_file_that_is_not_gguf_given_as_model_names_it()
    {
        string path = Write(Encoding.ASCII.GetBytes("hello"), "model.bin");
        var act = () => LlamaRuntime.Load(path, Device.Cpu).Dispose();
        act.Should().Throw<InvalidDataException>().Which.Message.Should().Contain(path).And.Contain("not a GGUF file");
    }

    [Fact]
    public void A_gguf_without_llama_metadata_names_the_key()
    {
        var bytes = new Raw().Header(0, 1).Str("general.architecture").U32((uint)GgufValueType.String).Str("gpt2").ToArray();
        string path = Write(bytes, "gpt2.gguf");
        var act = () => LlamaRuntime.Load(path, Device.Cpu).Dispose();
        act.Should().Throw<InvalidDataException>().Which.Message.Should().Contain(path).And.Contain("general.architecture").And.Contain("gpt2");
    }
}
