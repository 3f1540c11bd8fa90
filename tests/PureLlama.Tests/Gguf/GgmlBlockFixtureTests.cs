using System.Security.Cryptography;
using System.Text.Json;
using PureLlama.Compute;
using PureLlama.Kernels.Blocks;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.IO;
using Xunit.Abstractions;

namespace PureLlama.Tests.Gguf;

/// <summary>
/// The block formats against files llama.cpp wrote (shared/fixtures/gguf): every tensor's bytes dequantize
/// to the sha256 of ggml's own to_float, and quantizing the F16 source rows gives llama-quantize's bytes.
/// Tensor bytes are read at the offsets layout.json records, so these tests need no GGUF reader.
/// </summary>
public sealed class GgmlBlockFixtureTests(ITestOutputHelper output)
{
    private sealed record TensorEntry(string File, string Name, GgmlType Type, int[] Shape, long Offset, long Bytes, string Sha, string DequantSha);

    private List<TensorEntry>? Tensors()
    {
        var folder = Fixtures.Get("gguf/layout.json", output);
        if (folder is null) return null;
        var root = JsonDocument.Parse(File.ReadAllText(folder)).RootElement;
        var list = new List<TensorEntry>();
        foreach (var file in root.EnumerateObject())
        {
            if (!file.Value.GetProperty("in_folder").GetBoolean()) continue;
            foreach (var t in file.Value.GetProperty("tensors").EnumerateArray())
                list.Add(new(file.Name, t.GetProperty("name").GetString()!, Enum.Parse<GgmlType>(t.GetProperty("type").GetString()!),
                    [.. t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())],
                    t.GetProperty("data_offset").GetInt64(), t.GetProperty("n_bytes").GetInt64(),
                    t.GetProperty("sha256").GetString()!, t.GetProperty("dequant_f32_sha256").GetString()!));
        }
        return list;
    }

    private static byte[] Read(TensorEntry t)
    {
        using var f = File.OpenRead(Path.Combine(Fixtures.Root!, "gguf", t.File));
        f.Position = t.Offset;
        var bytes = new byte[t.Bytes];
        f.ReadExactly(bytes);
        return bytes;
    }

    private static string Sha(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(SHA256.HashData(b));

    private static string Sha(float[] v) => Sha(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));

    [Fact]
    public void Fixture_every_tensor_dequantizes_to_ggmls_values()
    {
        if (Tensors() is not { } tensors) return; // fixture missing outside CI (reported above)
        var seen = new HashSet<GgmlType>();
        foreach (var t in tensors)
        {
            var bytes = Read(t);
            Assert.Equal(t.Sha, Sha(bytes));
            var values = GgmlQuantizer.DequantizeRows(t.Type, bytes, t.Shape[0]);
            Assert.True(t.DequantSha == Sha(values), $"{t.File} {t.Name} ({t.Type}): dequantized values differ from ggml's");
            seen.Add(t.Type);
        }
        Assert.Superset(new HashSet<GgmlType>([GgmlType.F32, GgmlType.F16, .. BlockFormats.All]), seen);
        Assert.Equal(6, seen.Count);
    }

    [Fact]
    public void Fixture_block_tensors_dequantize_through_the_cpu_backend()
    {
        if (Tensors() is not { } tensors) return; // fixture missing outside CI (reported above)
        var be = Backends.Get(Device.Cpu);
        foreach (var t in tensors.Where(t => BlockFormats.IsBlockFormat(t.Type)).DistinctBy(t => (t.Type, t.Shape[0])))
        {
            using var blocks = Tensor.FromArray(Read(t), new Shape((int)t.Bytes));
            using var w = new GgmlBlockTensor(t.Type, new Shape(t.Shape[1], t.Shape[0]), blocks);
            using var dst = Tensor.Empty(w.Shape);
            be.Dequantize(w, dst);
            Assert.True(t.DequantSha == Sha(dst.ToArray<float>()), $"{t.File} {t.Name} ({t.Type})");
        }
    }

    [Fact]
    public void Fixture_quantizer_reproduces_llama_quantize_bytes()
    {
        if (Tensors() is not { } tensors) return; // fixture missing outside CI (reported above)
        var sources = tensors.Where(t => t.File.EndsWith("-f16.gguf", StringComparison.Ordinal))
            .ToDictionary(t => (t.File[..t.File.IndexOf('-')], t.Name));
        var mismatches = new List<string>();
        int compared = 0;
        foreach (var t in tensors.Where(t => BlockFormats.IsBlockFormat(t.Type)))
        {
            var src = sources[(t.File[..t.File.IndexOf('-')], t.Name)];
            var values = GgmlQuantizer.DequantizeRows(src.Type, Read(src), src.Shape[0]);
            var bytes = GgmlQuantizer.QuantizeRows(t.Type, values, t.Shape[0]);
            compared++;
            if (Sha(bytes) != t.Sha) mismatches.Add($"{t.File} {t.Name} {t.Type}");
        }
        output.WriteLine($"{compared - mismatches.Count} of {compared} quantized tensors byte-identical to llama-quantize");
        Assert.True(mismatches.Count == 0, "differ from llama-quantize: " + string.Join(", ", mismatches));
    }
}
