using PureLlama.IO.Gguf;
using PureLlama.Kernels.Blocks;
using PureLlama.Quantization;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>The writer against the reader: every value type, nested arrays, a non-default alignment, atomic replacement.</summary>
public sealed class GgufWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static GgufValue Arr(GgufValueType t, Array items) => new(GgufValueType.Array, new GgufArray(t, items, 0, 0));

    [Fact]
    public void Every_value_type_and_tensor_round_trips()
    {
        var values = new (string Key, GgufValue Value)[]
        {
            ("u8", new(GgufValueType.UInt8, 200UL)), ("i8", new(GgufValueType.Int8, -100L)),
            ("u16", new(GgufValueType.UInt16, 60000UL)), ("i16", new(GgufValueType.Int16, -30000L)),
            ("u32", GgufValue.OfUInt32(4_000_000_000)), ("i32", GgufValue.OfInt32(-2_000_000_000)),
            ("u64", new(GgufValueType.UInt64, ulong.MaxValue)), ("i64", new(GgufValueType.Int64, long.MinValue)),
            ("f32", GgufValue.OfFloat32(0.1f)), ("f64", new(GgufValueType.Float64, Math.PI)),
            ("bool", GgufValue.OfBool(true)), ("str", GgufValue.Of("héllo <|eot_id|>")), ("empty", GgufValue.Of("")),
            ("strings", Arr(GgufValueType.String, new[] { "a b", "Ġthe", "" })),
            ("ints", Arr(GgufValueType.Int32, new long[] { 1, -2, 3 })),
            ("nested", Arr(GgufValueType.Array, new[] { new GgufArray(GgufValueType.UInt8, new ulong[] { 1, 2 }, 0, 0), new GgufArray(GgufValueType.UInt8, Array.Empty<ulong>(), 0, 0) })),
        };
        var writer = new GgufWriter();
        writer.Add("general.alignment", GgufValue.OfUInt32(64));
        foreach (var (k, v) in values) writer.Add(k, v);
        var f32 = Enumerable.Range(0, 96).Select(i => i * 0.25f - 3).ToArray();
        var q8 = GgmlQuantizer.QuantizeRows(GgmlType.Q8_0, f32, 32);
        writer.AddTensor("dense", GgmlType.F32, [32, 3], () => GgmlQuantizer.QuantizeRows(GgmlType.F32, f32, 32));
        writer.AddTensor("blocks", GgmlType.Q8_0, [32, 3], () => q8);
        string path = _dir.File("all.gguf");
        writer.WriteFile(path);

        using var file = GgufFile.Open(path, PureLlama.IO.WeightLoading.Mapped);
        var h = file.Header;
        h.Alignment.Should().Be(64);
        (h.DataOffset % 64).Should().Be(0);
        h.Metadata.Select(kv => kv.Key).Should().Equal(new[] { "general.alignment" }.Concat(values.Select(v => v.Key)));
        foreach (var (k, v) in values)
        {
            h.TryGet(k, out var got).Should().BeTrue(k);
            got.Type.Should().Be(v.Type, k);
            if (v.Value is GgufArray a) Flatten((GgufArray)got.Value).Should().Equal(Flatten(a), k);
            else got.Value.Should().Be(v.Type == GgufValueType.Float32 ? (double)0.1f : v.Value, k);
        }
        h.Tensors.Select(t => (t.Name, t.Type)).Should().Equal(("dense", GgmlType.F32), ("blocks", GgmlType.Q8_0));
        h.Tensors.Should().OnlyContain(t => t.Offset % 64 == 0);
        using var dense = file.GetDense("dense");
        dense.ToFloatArray().Should().Equal(f32);
        file.Bytes(h.Tensor("blocks")).ToArray().Should().Equal(q8);
    }

    // Element type and items of an array, nested arrays spelled out (payload positions left out).
    private static IEnumerable<object> Flatten(GgufArray a)
    {
        yield return a.ElementType;
        foreach (var item in a.Items)
            if (item is GgufArray inner) foreach (var x in Flatten(inner)) yield return x;
            else yield return item!;
    }

    [Fact]
    public void A_failing_write_leaves_the_old_file()
    {
        string path = _dir.File("keep.gguf");
        File.WriteAllText(path, "old");
        var writer = new GgufWriter();
        writer.AddTensor("t", GgmlType.F32, [4], () => new byte[3]); // declares 16 bytes, produces 3
        var act = () => writer.WriteFile(path);
        act.Should().Throw<InvalidOperationException>().WithMessage("*'t'*3*16*");
        File.ReadAllText(path).Should().Be("old");
        File.Exists(path + ".tmp").Should().BeFalse();
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        var w = new GgufWriter();
        w.Add("k", GgufValue.Of("v"));
        ((Action)(() => w.Add("k", GgufValue.Of("again")))).Should().Throw<ArgumentException>().WithMessage("*'k'*twice*");
        ((Action)(() => w.Add("general.alignment", GgufValue.OfUInt32(48)))).Should().Throw<ArgumentException>().WithMessage("*power of two*");
        ((Action)(() => w.AddTensor("q", GgmlType.Q4_K, [255, 1], () => []))).Should().Throw<ArgumentException>().WithMessage("*'q'*blocks*");
        ((Action)(() => w.AddTensor("z", GgmlType.F32, [0], () => []))).Should().Throw<ArgumentException>().WithMessage("*'z'*");
    }
}
