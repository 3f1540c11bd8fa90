using System.Security.Cryptography;
using PureLlama.IO;
using PureLlama.IO.Gguf;
using PureLlama.Quantization;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>The reader against layout.json: header, every metadata key/value, the tensor table and the bytes of every tensor.</summary>
public sealed class GgufLayoutFixtureTests(ITestOutputHelper output)
{
    [Theory, MemberData(nameof(GgufFixtures.StoredFiles), MemberType = typeof(GgufFixtures))]
    public void Fixture_header_metadata_and_tensor_table_match_layout(string file)
    {
        string dir = GgufFixtures.Dir(output);
        var layout = GgufFixtures.Layout(dir, file);
        string path = Path.Combine(dir, file);
        using var gguf = GgufFile.Open(path, WeightLoading.Mapped);
        var h = gguf.Header;
        h.FileLength.Should().Be(layout.GetProperty("file_size").GetInt64());
        h.Version.Should().Be((uint)layout.GetProperty("gguf_version").GetInt32());
        h.Alignment.Should().Be(layout.GetProperty("alignment").GetInt32());
        h.DataOffset.Should().Be(layout.GetProperty("tensor_data_offset").GetInt64());
        h.Metadata.Should().HaveCount(layout.GetProperty("kv_count").GetInt32());
        h.Tensors.Should().HaveCount(layout.GetProperty("tensor_count").GetInt32());

        byte[] bytes = File.ReadAllBytes(path);
        int k = 0;
        foreach (var m in layout.GetProperty("metadata").EnumerateArray())
        {
            var (key, value) = h.Metadata[k++];
            key.Should().Be(m.GetProperty("key").GetString());
            value.Type.ToString().ToUpperInvariant().Should().Be(m.GetProperty("type").GetString(), key);
            if (value.Value is GgufArray a)
            {
                a.ElementType.ToString().ToUpperInvariant().Should().Be(m.GetProperty("element_type").GetString(), key);
                a.Count.Should().Be(m.GetProperty("count").GetInt32(), key);
                a.PayloadLength.Should().Be(m.GetProperty("payload_bytes").GetInt64(), key);
                Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan((int)a.PayloadOffset, (int)a.PayloadLength)))
                    .Should().Be(m.GetProperty("payload_sha256").GetString(), key);
                var first = m.GetProperty("first").EnumerateArray().ToArray();
                for (int i = 0; i < first.Length; i++)
                    Same(a.Items.GetValue(i)!, first[i]).Should().BeTrue($"{key}[{i}]");
            }
            else Same(value.Value, m.GetProperty("value")).Should().BeTrue($"{key} = {value}");
        }

        int n = 0;
        foreach (var t in layout.GetProperty("tensors").EnumerateArray())
        {
            var info = h.Tensors[n++];
            info.Name.Should().Be(t.GetProperty("name").GetString());
            GgmlTypes.Name(info.Type).Should().Be(t.GetProperty("type").GetString(), info.Name);
            info.Dims.Should().Equal(t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), info.Name);
            info.ElementCount.Should().Be(t.GetProperty("n_elements").GetInt64());
            (h.DataOffset + info.Offset).Should().Be(t.GetProperty("data_offset").GetInt64(), info.Name);
            info.ByteLength.Should().Be(t.GetProperty("n_bytes").GetInt64(), info.Name);
            Convert.ToHexStringLower(SHA256.HashData(gguf.Bytes(info))).Should().Be(t.GetProperty("sha256").GetString(), info.Name);
            var values = GgmlQuantizer.DequantizeRows(info.Type, gguf.Bytes(info), (int)info.RowLength);
            Convert.ToHexStringLower(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())))
                .Should().Be(t.GetProperty("dequant_f32_sha256").GetString(), $"{info.Name} dequantized");
            if (GgufFile.DenseDType(info.Type) is not null)
            {
                using var dense = gguf.GetDense(info.Name);
                dense.Shape.ToArray().Should().Equal(info.RowMajorShape());
                dense.ToFloatArray().Should().Equal(values, "the dense view widens to the same values");
            }
        }
        output.WriteLine($"{file}: {h.Metadata.Count} keys, {h.Tensors.Count} tensors, data at {h.DataOffset}");
    }

    private static bool Same(object ours, System.Text.Json.JsonElement theirs) => ours switch
    {
        string s => theirs.GetString() == s,
        bool b => theirs.GetBoolean() == b,
        double d => Math.Abs(theirs.GetDouble() - d) <= 1e-6 * Math.Max(1, Math.Abs(d)),
        long l => theirs.GetInt64() == l,
        ulong u => theirs.GetUInt64() == u,
        _ => false,
    };
}
