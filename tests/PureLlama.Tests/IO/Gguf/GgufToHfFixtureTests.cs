using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.Kernels.Simd;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tokenization;
using PureLlama.Training;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>
/// GGUF → Hugging Face folder (<c>purellama convert --model FILE.gguf</c>): llama.cpp's own F16 file converts back to the
/// folder it was made from; HF → GGUF (our exporter) → HF round trips within the quantization; the converted folder
/// computes what the GGUF computes; a failed conversion leaves the target folder as it was.
/// </summary>
public sealed class GgufToHfFixtureTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Fixture_llama_cpps_f16_file_converts_back_to_the_folder_it_was_made_from()
    {
        string dir = GgufFixtures.Dir(output);
        string hf = Path.Combine(dir, "random-hf"), outDir = _dir.File("random");
        CheckpointConverter.Convert(Path.Combine(dir, "random-f16.gguf"), outDir, DType.F32);
        // F16 in the GGUF: every weight within f16 rounding (relative 2^-11, absolute 2^-25 for subnormals) of the F32 original.
        AssertSameFolder(hf, outDir, (expected, got) => Math.Abs(got - expected) <= Math.Abs(expected) / 2048 + 3e-8);
    }

    [Theory]
    [InlineData(GgufExportType.F32, 0.0)]
    [InlineData(GgufExportType.BF16, 1.0 / 256)]
    [InlineData(GgufExportType.Q8_0, 1.0 / 127)]
    public void Fixture_hf_to_gguf_to_hf_round_trips_within_the_quantization(GgufExportType type, double ofRowMax)
    {
        string dir = GgufFixtures.Dir(output);
        string hf = Path.Combine(dir, "random-hf"), gguf = _dir.File("random.gguf"), outDir = _dir.File("back");
        GgufExporter.Export(hf, type, gguf);
        CheckpointConverter.Convert(gguf, outDir, DType.F32);
        // BF16: half an ulp of 8 bits; Q8_0: half a step of d = amax/127 per block of 32 (≤ the row max / 254), plus f16 d.
        AssertSameFolder(hf, outDir, (expected, got) => Math.Abs(got - expected) <= ofRowMax * Math.Abs(expected) + 1e-7, ofRowMax, type != GgufExportType.F32);
    }

    [Theory]
    [InlineData("demo-f16.gguf", true)]
    [InlineData("demo-q8_0.gguf", false)]
    [InlineData("demo-q4_k_m.gguf", false)]
    public void Fixture_converted_folder_computes_and_generates_as_the_gguf(string file, bool bitwise)
    {
        string dir = GgufFixtures.Dir(output), outDir = _dir.File(file + ".hf");
        CheckpointConverter.Convert(Path.Combine(dir, file), outDir, DType.F32);
        // The GGUF's block weights through the exact (dequantize-then-F32) products: the same Ŵ as the folder's F32 weights.
        using var exact = QuantizedInference.Scope(exactDequant: true);
        using var fromGguf = LlamaRuntime.Load(Path.Combine(dir, file), Device.Cpu, WeightLoading.Mapped, contextLength: 256);
        using var fromFolder = LlamaRuntime.Load(outDir, Device.Cpu, WeightLoading.Mapped, contextLength: 256);
        fromFolder.Config.TieWordEmbeddings.Should().Be(fromGguf.Config.TieWordEmbeddings);
        var ids = fromGguf.Encode("Once upon a time, in a land far away,");
        fromFolder.Encode("Once upon a time, in a land far away,").Should().Equal(ids);
        var a = fromGguf.Logits(ids);
        var b = fromFolder.Logits(ids);
        double worst = a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
        output.WriteLine($"{file}: max |Δlogit| GGUF vs converted folder {worst:E2}");
        if (bitwise) b.Should().Equal(a);
        else worst.Should().BeLessThan(1e-3);
        var greedy = SamplingOptions.Greedy with { MaxNewTokens = 24 };
        fromFolder.Generate(ids, greedy).Select(t => t.Id).Should().Equal(fromGguf.Generate(ids, greedy).Select(t => t.Id));
        fromFolder.Tokenizer!.ChatTemplate.TemplateText.Should().Be(fromGguf.Tokenizer!.ChatTemplate.TemplateText);
        fromFolder.Config.EosTokenIds.Should().Equal([4081, 4089], "<|eot_id|> joins the GGUF's eos as in the demo's config.json");
    }

    [Fact]
    public void Fixture_a_failed_conversion_leaves_the_target_folder_intact()
    {
        string dir = GgufFixtures.Dir(output), target = _dir.File("target");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "config.json"), "{\"old\": true}");
        File.WriteAllText(Path.Combine(target, "model.safetensors"), "old weights");
        var bytes = File.ReadAllBytes(Path.Combine(dir, "random-q8_0.gguf"));
        string truncated = _dir.File("truncated.gguf");
        File.WriteAllBytes(truncated, bytes.AsSpan(0, bytes.Length - 1000).ToArray());
        var act = () => CheckpointConverter.Convert(truncated, target, DType.BF16);
        act.Should().Throw<InvalidDataException>().WithMessage("*truncated.gguf*");
        File.ReadAllText(Path.Combine(target, "config.json")).Should().Be("{\"old\": true}");
        File.ReadAllText(Path.Combine(target, "model.safetensors")).Should().Be("old weights");
        Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName).Should().BeEquivalentTo(["target", "truncated.gguf"], "no temporary folder is left");
    }

    [Theory]
    [InlineData(8.0, 1.0, 4.0, 8192, 500000.0, 64)]
    [InlineData(32.0, 1.0, 4.0, 8192, 500000.0, 128)]
    [InlineData(16.0, 2.0, 8.0, 4096, 10000.0, 128)]
    public void Llama3_rope_scaling_is_recovered_from_rope_freqs(double factor, double low, double high, int orig, double theta, int headDim)
    {
        var factors = GgufExporter.Llama3RopeFactors(new Llama3RopeScaling(factor, low, high, orig), theta, headDim);
        var s = GgufRopeScaling.Recover(factors, theta, headDim, "test.gguf")!;
        s.Factor.Should().Be(factor);
        (s.OriginalMaxPositionEmbeddings / s.LowFreqFactor).Should().BeApproximately(orig / low, 1e-6 * orig / low, "the low-frequency boundary");
        (s.OriginalMaxPositionEmbeddings / s.HighFreqFactor).Should().BeApproximately(orig / high, 1e-6 * orig / high, "the high-frequency boundary");
        var again = GgufExporter.Llama3RopeFactors(s, theta, headDim);
        for (int i = 0; i < factors.Length; i++) again[i].Should().BeApproximately(factors[i], 3e-7f * factors[i], $"factor {i}");
        if (low == 1) s.Should().Be(new Llama3RopeScaling(factor, low, high, orig), "Llama 3.1's values come back exactly");
    }

    [Fact]
    public void Rope_freqs_that_are_not_llama3_scaling_are_refused_naming_the_file()
    {
        var factors = Enumerable.Range(0, 32).Select(i => 1f + i * i * 0.01f).ToArray();
        var act = () => GgufRopeScaling.Recover(factors, 500000, 64, "odd.gguf");
        act.Should().Throw<InvalidDataException>().WithMessage("*odd.gguf*rope_freqs.weight*");
        GgufRopeScaling.Recover(Enumerable.Repeat(1f, 32).ToArray(), 500000, 64, "flat.gguf").Should().BeNull();
    }

    // Same config (as parsed), tokenizer (ids of a sample text, chat template) and weights (name, shape, values within `close`).
    private static void AssertSameFolder(string expectedDir, string gotDir, Func<double, double, bool> close, double ofRowMax = 0, bool rowTolerance = false)
    {
        var e = LlamaConfig.FromFile(Path.Combine(expectedDir, "config.json"));
        var g = LlamaConfig.FromFile(Path.Combine(gotDir, "config.json"));
        g.Should().BeEquivalentTo(e, o => o.Excluding(c => c.TorchDtype).Excluding(c => c.RmsNormEps));
        ((float)g.RmsNormEps).Should().Be((float)e.RmsNormEps);
        GenerationConfig.FromFile(Path.Combine(gotDir, "generation_config.json")).EosTokenIds.Should().Equal(e.EosTokenIds);
        var te = Llama3Tokenizer.Load(expectedDir);
        var tg = Llama3Tokenizer.Load(gotDir);
        const string text = "Hello world! <|eot_id|> 1234 ünïcödé\n\n  spaces";
        tg.Encode(text).Should().Equal(te.Encode(text));
        tg.ChatTemplate.TemplateText.Should().Be(te.ChatTemplate.TemplateText);
        tg.BosId.Should().Be(te.BosId);
        using var se = HfCheckpoint.Open(expectedDir);
        using var sg = HfCheckpoint.Open(gotDir);
        sg.TensorNames.Should().BeEquivalentTo(se.TensorNames);
        foreach (var name in se.TensorNames)
        {
            sg.Info(name).Shape.Should().Be(se.Info(name).Shape, name);
            using var te2 = se.GetTensor(name);
            using var tg2 = sg.GetTensor(name);
            var a = te2.ToFloatArray();
            var b = tg2.ToFloatArray();
            int cols = te2.Rank == 2 ? te2.Shape[1] : a.Length;
            for (int r = 0; r < a.Length / cols; r++)
            {
                double rowMax = 0;
                for (int c = 0; c < cols; c++) rowMax = Math.Max(rowMax, Math.Abs(a[r * cols + c]));
                for (int c = 0; c < cols; c++)
                {
                    int i = r * cols + c;
                    bool ok = rowTolerance ? Math.Abs(b[i] - (double)a[i]) <= ofRowMax * rowMax + 1e-7 : close(a[i], b[i]);
                    if (!ok) throw new Xunit.Sdk.XunitException($"{name}[{r},{c}]: {b[i]} vs {a[i]} (row max {rowMax})");
                }
            }
        }
    }
}
