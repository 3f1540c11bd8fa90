using PureLlama.Calibration;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.IO;
using PureLlama.Tests.Llama;
using Xunit.Abstractions;

namespace PureLlama.Tests.Calibration;

/// <summary>
/// The layer-by-layer GPTQ/AWQ/RTN pipeline on the tiny fixture model (random weights: the figures show
/// the machinery works, not how well a trained model quantizes): AWQ folding keeps the function, quantized
/// folders written in the GPTQ and AWQ layouts load to the in-memory model's logits and generate, GPTQ's
/// layer errors on its calibration inputs are below RTN's.
/// </summary>
public sealed class CalibrationPipelineTests(ITestOutputHelper output)
{
    private static readonly Device Cpu = Device.Cpu;

    private static IReadOnlyList<int[]> Samples(int count, int length, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => rng.Next(256)).ToArray()).ToList();
    }

    private static float[] Logits(LlamaModel model)
    {
        using var cache = model.CreateCache(64);
        using var logits = model.Forward([LlamaFixtures.Prompt], [cache], LogitRows.All);
        return logits.ToFloatArray();
    }

    private static double MaxRelative(float[] got, float[] reference)
    {
        double scale = reference.Max(v => Math.Abs((double)v));
        return LlamaFixtures.MaxAbsDiff(got, reference) / scale;
    }

    [Fact]
    public void Awq_scale_folding_leaves_the_unquantized_logits_unchanged()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Cpu);
        var before = Logits(model);
        var rng = new Random(7);
        float[] Scales(int n) => Enumerable.Range(0, n).Select(_ => (float)Math.Exp(rng.NextDouble() * 2 - 1)).ToArray();
        var c = model.Config;
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            // o_proj's scales fold into v_proj only without GQA; the fixture has 4 heads over 2 KV heads.
            float[]? o = c.NumKeyValueHeads == c.NumAttentionHeads ? Scales(c.QueryDim) : null;
            AwqLayer.Fold(model, l, new AwqLayerScales(Scales(c.HiddenSize), o, Scales(c.HiddenSize), Scales(c.IntermediateSize)));
        }
        var after = Logits(model);
        double err = MaxRelative(after, before);
        output.WriteLine($"max |Δlogit| / max |logit| after folding: {err:E2}");
        err.Should().BeLessThan(1e-5);
        using var original = LlamaFixtures.LoadModel(tiny, "f32", Cpu);
        model.Layers[0].InputNorm.Weight.ToFloatArray().Should().NotEqual(original.Layers[0].InputNorm.Weight.ToFloatArray());
    }

    public static TheoryData<string, bool, bool> Methods() => new()
    {
        { "gptq", false, false }, { "gptq", true, true }, { "awq", false, false }, { "rtn", true, false },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void Quantized_folder_round_trips_and_generates(string method, bool sym, bool actOrder)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        string source = Path.Combine(tiny, "f32");
        var kind = method switch { "gptq" => GroupMethod.Gptq, "awq" => GroupMethod.Awq, _ => GroupMethod.Rtn };
        var options = new LayerwiseOptions(kind, new GroupQuantOptions(4, 32, sym), ActOrder: actOrder);
        using var model = LlamaFixtures.LoadModel(tiny, "f32", Cpu);
        var dense = Logits(model);
        var reports = LayerwiseQuantizer.Quantize(model, kind == GroupMethod.Rtn ? [] : Samples(4, 24, 3), options, p => output.WriteLine(p.ToString()));
        reports.Should().HaveCount(model.Config.NumHiddenLayers);
        model.NamedLinears().Where(x => x.Name != "lm_head").Should().OnlyContain(x => x.Linear is QuantLinear);
        var inMemory = Logits(model);
        output.WriteLine($"{method}: logits relative to dense {MaxRelative(inMemory, dense):E2}");

        using var dir = new TempDir();
        var config = new Int4CheckpointConfig { Method = kind == GroupMethod.Awq ? "awq" : "gptq", GroupSize = 32, Sym = sym, DescAct = actOrder };
        var report = Int4Checkpoint.Write(model, source, dir.File("q"), config);
        report.BitsPerQuantizedWeight.Should().BeInRange(4.0, 6.0);
        var read = Int4CheckpointConfig.FromConfigFile(Path.Combine(dir.File("q"), "config.json"))!;
        (read.Method, read.GroupSize, read.Sym, read.DescAct).Should().Be((config.Method, config.GroupSize, config.Sym, config.DescAct));
        File.Exists(Path.Combine(dir.File("q"), config.IsAwq ? "quant_config.json" : "quantize_config.json")).Should().BeTrue();

        using var loaded = LlamaRuntime.Load(dir.File("q"), Cpu);
        loaded.Model.NamedLinears().Where(x => x.Name != "lm_head").Should().OnlyContain(x => x.Linear is QuantLinear);
        var fromFile = Logits(loaded.Model);
        LlamaFixtures.MaxAbsDiff(fromFile, inMemory).Should().BeLessThan(1e-5);
        var tokens = loaded.Generate(LlamaFixtures.Prompt, new SamplingOptions { MaxNewTokens = 5, Temperature = 0 }).ToList();
        tokens.Should().NotBeEmpty().And.HaveCountLessThanOrEqualTo(5);
    }

    [Fact]
    public void Gptq_layer_errors_are_below_rtn_on_the_calibration_inputs()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        var samples = Samples(8, 32, 11);
        double Total(GroupMethod m, bool trueSequential = false)
        {
            using var model = LlamaFixtures.LoadModel(tiny, "f32", Cpu);
            // RTN gets the samples too so that its layer errors are measured on the same inputs.
            var options = new LayerwiseOptions(m, new GroupQuantOptions(4, 32, false), TrueSequential: trueSequential);
            return LayerwiseQuantizer.Quantize(model, samples, options).Sum(r => r.RelativeError);
        }
        double rtn = Total(GroupMethod.Rtn), gptq = Total(GroupMethod.Gptq), seq = Total(GroupMethod.Gptq, true), awq = Total(GroupMethod.Awq);
        output.WriteLine($"sum of layer relative output errors: RTN {rtn:E3}, GPTQ {gptq:E3}, GPTQ true-sequential {seq:E3}, AWQ {awq:E3}");
        gptq.Should().BeLessThan(rtn);
        seq.Should().BeLessThan(rtn);
    }

    [Fact]
    public void Calibration_windows_cover_the_text()
    {
        var ids = Enumerable.Range(0, 100).ToArray();
        var w = CalibrationData.Windows(ids, 3, 40);
        w.Should().HaveCount(3);
        w[0][0].Should().Be(0);
        w[2][^1].Should().Be(99);
        CalibrationData.Windows(ids, 2, 500).Should().ContainSingle().Which.Should().HaveCount(100);
        CalibrationData.Windows(ids, 50, 40).Should().HaveCount(6); // a short text is not repeated 50 times
    }
}
