using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.IO;
using Xunit.Abstractions;

namespace PureLlama.Tests.Llama;

/// <summary>
/// The tiny fixture model (HF transformers' Llama) with NF4/INT8 projections: a folder written by
/// <see cref="CheckpointQuantizer"/> loads to the same logits as quantize-on-load, the quantization's
/// effect on the logits is reported against the F32 reference, and broken quantized folders are named.
/// </summary>
public sealed class QuantizedLlamaFixtureTests(ITestOutputHelper output)
{
    private static readonly Device Cpu = Device.Cpu;

    public static TheoryData<string, bool> Formats() => new() { { "nf4", true }, { "nf4", false }, { "int8", false } };

    private static QuantizationConfig Config(string format, bool doubleQuant) =>
        format == "nf4" ? QuantizationConfig.Nf4(doubleQuant) : QuantizationConfig.Int8();

    private static double RelativeError(float[] got, float[] reference)
    {
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++) { double d = got[i] - (double)reference[i]; num += d * d; den += (double)reference[i] * reference[i]; }
        return Math.Sqrt(num / den);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void FixtureQuantizedFolderMatchesQuantizeOnLoad(string format, bool doubleQuant)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        var config = Config(format, doubleQuant);
        string f32 = Path.Combine(tiny, "f32"), outDir = dir.File("q");
        CheckpointQuantizer.Quantize(f32, outDir, config);
        int[] ids = LlamaFixtures.Prompt;

        using var onLoad = LlamaRuntime.Load(f32, Cpu, WeightLoading.Copied, quantize: config);
        using var fromFolder = LlamaRuntime.Load(outDir, Cpu, WeightLoading.Mapped);
        using var fromFolderAgain = LlamaRuntime.Load(outDir, Cpu, WeightLoading.Copied, quantize: config); // same format: loads as stored
        foreach (var rt in new[] { onLoad, fromFolder })
        {
            var linears = rt.Model.NamedLinears().ToList();
            linears.Where(l => l.Name != "lm_head").Should().OnlyContain(l => l.Linear is QuantLinear && ((QuantLinear)l.Linear).Weight.Format == config.Format);
            linears.Single(l => l.Name == "lm_head").Linear.Should().BeOfType<Linear>("bitsandbytes leaves lm_head dense");
        }
        float[] a = onLoad.Logits(ids), b = fromFolder.Logits(ids), c = fromFolderAgain.Logits(ids);
        b.Should().Equal(a, "the folder holds exactly what quantize-on-load computes");
        c.Should().Equal(a);

        var (reference, _) = LlamaFixtures.Reference(tiny, "logits");
        double rel = RelativeError(a, reference);
        using var dense = LlamaRuntime.Load(f32, Cpu);
        // Weight error of the projections: ‖Ŵ − W‖ / ‖W‖ over all of them.
        double wNum = 0, wDen = 0;
        var denseLinears = dense.Model.NamedLinears().ToDictionary(l => l.Name, l => l.Linear);
        foreach (var (name, l) in onLoad.Model.NamedLinears())
        {
            if (l is not QuantLinear q) continue;
            float[] w = denseLinears[name].DenseWeight().ToFloatArray();
            using var deq = Tensor.Empty(q.Weight.Shape, DType.F32);
            PureLlama.Compute.Backends.Get(Cpu).Dequantize(q.Weight, deq);
            float[] wq = deq.ToFloatArray();
            for (int i = 0; i < w.Length; i++) { double d = wq[i] - (double)w[i]; wNum += d * d; wDen += (double)w[i] * w[i]; }
        }
        output.WriteLine($"{config.Describe()}: projection weight relative error {Math.Sqrt(wNum / wDen):E3}");
        output.WriteLine($"{config.Describe()}: tiny-model logits relative error vs HF F32 logits {rel:E3} (dense PureLlama F32: {RelativeError(dense.Logits(ids), reference):E3}); " +
                         $"projection bytes {onLoad.Model.NamedLinears().Where(l => l.Name != "lm_head").Sum(l => l.Linear.WeightBytes):N0} vs dense {dense.Model.NamedLinears().Where(l => l.Name != "lm_head").Sum(l => l.Linear.WeightBytes):N0}");
        rel.Should().BeLessThan(format == "int8" ? 0.02 : 0.2, "quantization perturbs the logits by about its weight error, no more");
        rel.Should().BeGreaterThan(0, "the weights really are quantized");
    }

    [Fact]
    public void FixtureQuantizeOnLoadOfBf16WeightsRunsGeneration()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var rt = LlamaRuntime.Load(Path.Combine(tiny, "bf16"), Cpu, WeightLoading.Mapped, quantize: QuantizationConfig.Nf4());
        var tokens = rt.Generate(LlamaFixtures.Prompt, SamplingOptions.Greedy with { MaxNewTokens = 8, StopTokenIds = [] }).Select(t => t.Id).ToArray();
        tokens.Should().HaveCount(8);
        // The same greedy tokens with the KV cache as with a full recompute of the logits.
        int[] all = [.. LlamaFixtures.Prompt, .. tokens[..^1]];
        float[] logits = rt.Logits(all);
        for (int i = 0; i < tokens.Length; i++)
        {
            var row = logits.AsSpan((LlamaFixtures.Prompt.Length - 1 + i) * 256, 256);
            int best = 0;
            for (int v = 1; v < 256; v++) if (row[v] > row[best]) best = v;
            best.Should().Be(tokens[i], $"step {i}");
        }
    }

    // The fixture's f32 folder, or (tied) a copy with tie_word_embeddings: lm_head is the embedding table, not stored.
    internal static string Source(string tiny, TempDir dir, bool tied)
    {
        string source = Path.Combine(tiny, "f32");
        if (!tied) return source;
        source = dir.File("tied");
        Directory.CreateDirectory(source);
        string json = File.ReadAllText(Path.Combine(tiny, "f32", "config.json")).Replace("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true");
        File.WriteAllText(Path.Combine(source, "config.json"), json);
        using var file = SafeTensorsFile.Open(Path.Combine(tiny, "f32", "model.safetensors"));
        var list = file.Tensors.Where(t => t.Name != "lm_head.weight").Select(t => (t.Name, file.GetTensor(t.Name))).ToList();
        SafeTensorsWriter.Write(Path.Combine(source, "model.safetensors"), list);
        foreach (var (_, t) in list) t.Dispose();
        return source;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FixtureQuantizeOnLoadCanQuantizeLmHeadTiedOrNot(bool tied)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string source = Source(tiny, dir, tied);
        using var dense = LlamaRuntime.Load(source, Cpu);
        using var quantized = LlamaRuntime.Load(source, Cpu, WeightLoading.Copied, quantize: QuantizationConfig.Nf4() with { SkipModules = [] });
        var head = quantized.Model.LmHead.Should().BeOfType<QuantLinear>().Subject;
        quantized.Model.EmbedTokens.Table.DType.Should().Be(DType.F32, "the embedding gather keeps the dense table");

        // lm_head is the NF4 quantization of the (tied or stored) dense head.
        using var expected = Nf4Quantizer.Quantize(dense.Model.LmHead.DenseWeight());
        ((Nf4Tensor)head.Weight).Packed.ToArray<byte>().Should().Equal(expected.Packed.ToArray<byte>());
        double rel = RelativeError(quantized.Logits(LlamaFixtures.Prompt), dense.Logits(LlamaFixtures.Prompt));
        output.WriteLine($"tied={tied}: NF4 everything incl. lm_head, logits relative error vs dense {rel:E3}");
        rel.Should().BeInRange(1e-6, 0.25);
    }

    [Theory]
    [InlineData("q8_0", false)]
    [InlineData("q4_0", true)]
    [InlineData("int8", true)]
    public void FixtureLmHeadFormatGivesTheHeadItsOwnFormat(string format, bool tied)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string source = Source(tiny, dir, tied);
        var headFormat = QuantizationConfig.ParseLmHeadFormat(format);
        var config = QuantizationConfig.Nf4() with { SkipModules = [], LmHeadFormat = headFormat };
        config.Describe().Should().EndWith($", lm_head {headFormat}");
        using var dense = LlamaRuntime.Load(source, Cpu);
        using var quantized = LlamaRuntime.Load(source, Cpu, WeightLoading.Copied, quantize: config);
        quantized.Model.Layers[0].Mlp.UpProj.Should().BeOfType<QuantLinear>().Which.Weight.Format.Should().Be(QuantFormat.Nf4, "the projections keep --quantize's format");
        var head = quantized.Model.LmHead.Should().BeOfType<QuantLinear>().Subject;
        head.Weight.Format.Should().Be(headFormat);
        quantized.Model.EmbedTokens.Table.DType.Should().Be(DType.F32, "the embedding gather keeps the dense table");

        // The head is the quantization of the (tied or stored) dense head, bit for bit.
        using var expected = config.QuantizeLmHead(dense.Model.LmHead.DenseWeight());
        head.Weight.Components.Should().HaveSameCount(expected.Components);
        for (int i = 0; i < expected.Components.Count; i++)
            RawBytes(head.Weight.Components[i]).Should().Equal(RawBytes(expected.Components[i]));
        double rel = RelativeError(quantized.Logits(LlamaFixtures.Prompt), dense.Logits(LlamaFixtures.Prompt));
        output.WriteLine($"tied={tied}: NF4 projections, lm_head {format}, logits relative error vs dense {rel:E3}");
        rel.Should().BeInRange(1e-6, 0.25);
    }

    internal static byte[] RawBytes(Tensor t) => t.DType.SizeOf() switch
    {
        1 => t.ToArray<byte>(),
        2 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray<ushort>().AsSpan()).ToArray(),
        _ => System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray<int>().AsSpan()).ToArray(),
    };

    [Fact]
    public void LmHeadFormatIsRefusedWhereItCannotHold()
    {
        using var weight = Tensor.FromArray(new float[8 * 64], new Shape(8, 64), Cpu);
        FluentActions.Invoking(() => (QuantizationConfig.Int8() with { LmHeadFormat = QuantFormat.Q6_K }).QuantizeLmHead(weight))
            .Should().Throw<ArgumentException>().WithMessage("*lm_head*Q6_K*64*256*");
        FluentActions.Invoking(() => QuantizationConfig.ParseLmHeadFormat("q5_1")).Should().Throw<ArgumentException>().WithMessage("*q6_k*q5_1*");
        FluentActions.Invoking(() => (QuantizationConfig.Int8() with { LmHeadFormat = QuantFormat.Int4Group }).Validate()).Should().Throw<ArgumentException>();
        using var dir = new TempDir();
        FluentActions.Invoking(() => CheckpointQuantizer.Quantize(dir.File("src"), dir.File("out"), QuantizationConfig.Nf4() with { SkipModules = [], LmHeadFormat = QuantFormat.Q6_K }))
            .Should().Throw<ArgumentException>().WithMessage("*bitsandbytes*Q6_K*");
    }

    [Fact]
    public void FixtureQuantizedFolderErrorsNameTheTensor()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string good = dir.File("good");
        CheckpointQuantizer.Quantize(Path.Combine(tiny, "f32"), good, QuantizationConfig.Nf4());

        // Rewrites the good folder's weights through `edit` into a new folder.
        string Broken(string name, Action<List<(string Name, Tensor Tensor)>> edit)
        {
            string d = dir.File(name);
            Directory.CreateDirectory(d);
            File.Copy(Path.Combine(good, "config.json"), Path.Combine(d, "config.json"));
            using var file = SafeTensorsFile.Open(Path.Combine(good, "model.safetensors"));
            var list = file.Tensors.Select(t => (t.Name, file.GetTensor(t.Name))).ToList();
            edit(list);
            SafeTensorsWriter.Write(Path.Combine(d, "model.safetensors"), list);
            foreach (var (_, t) in list) t.Dispose();
            return d;
        }
        const string absmax = "model.layers.1.mlp.up_proj.weight.absmax";
        string missing = Broken("missing", l => l.RemoveAll(e => e.Name == absmax));
        FluentActions.Invoking(() => LlamaRuntime.Load(missing, Cpu)).Should().Throw<InvalidDataException>().WithMessage($"*'{absmax}'*missing*");

        string misShaped = Broken("misshaped", l => { int i = l.FindIndex(e => e.Name == absmax); l[i] = (absmax, Tensor.Zeros(new Shape(5), DType.U8)); });
        FluentActions.Invoking(() => LlamaRuntime.Load(misShaped, Cpu)).Should().Throw<InvalidDataException>().WithMessage($"*'{absmax}'*model.safetensors*[5]*");

        string extra = Broken("extra", l => l.Add(("model.layers.0.mlp.up_proj.bias", Tensor.Zeros(new Shape(128)))));
        FluentActions.Invoking(() => LlamaRuntime.Load(extra, Cpu)).Should().Throw<InvalidDataException>().WithMessage("*'model.layers.0.mlp.up_proj.bias'*unexpected*");

        string dense = Broken("dense-norm", l => l.RemoveAll(e => e.Name == "model.norm.weight"));
        FluentActions.Invoking(() => LlamaRuntime.Load(dense, Cpu)).Should().Throw<InvalidDataException>().WithMessage("*'model.norm.weight'*missing*");

        FluentActions.Invoking(() => LlamaRuntime.Load(good, Cpu, quantize: QuantizationConfig.Int8()))
            .Should().Throw<InvalidDataException>().WithMessage("*stored as NF4*cannot be re-quantized to Int8*");
    }
}
