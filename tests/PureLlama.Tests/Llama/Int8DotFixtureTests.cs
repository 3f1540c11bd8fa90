using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.Kernels.Simd;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Llama;

/// <summary>
/// The tiny fixture model with NF4 / INT8 / INT4 (RTN) projections, lm_head included: the int8 dot-product path
/// (the inference default) against the exact F32-code path: every projection was repacked at load, the logits
/// differ by what activation quantization implies (well under the quantization error itself), greedy tokens agree,
/// and the switch really selects the path.
/// </summary>
public sealed class Int8DotFixtureTests(ITestOutputHelper output)
{
    public static TheoryData<string> Formats() => ["nf4", "nf4-dq", "int8", "int4-rtn"];

    private static LlamaRuntime Load(string tiny, string format)
    {
        string f32 = Path.Combine(tiny, "f32");
        if (format == "int4-rtn")
        {
            var rt = LlamaRuntime.Load(f32, Device.Cpu, WeightLoading.Copied);
            foreach (var (name, l) in rt.Model.NamedLinears().ToList())
            {
                float[] w = l.DenseWeight().ToFloatArray();
                var q = Rtn.Quantize(w, l.OutFeatures, l.InFeatures, new GroupQuantOptions(GroupSize: 32));
                var ql = new QuantLinear(q.ToTensor(Device.Cpu));
                ((CpuBackend)Backends.Get(Device.Cpu)).Prepack(ql.Weight);
                rt.Model.ReplaceLinear(name, ql).Dispose();
            }
            return rt;
        }
        var config = format == "int8" ? QuantizationConfig.Int8() : QuantizationConfig.Nf4(doubleQuant: format == "nf4-dq");
        using (QuantizedInference.Scope(false))   // repacked at load only when the fast path is on
            return LlamaRuntime.Load(f32, Device.Cpu, WeightLoading.Copied, quantize: config with { SkipModules = [] });
    }

    internal static double RelativeError(float[] got, float[] reference)
    {
        double num = 0, den = 0;
        for (int i = 0; i < got.Length; i++) { double d = got[i] - (double)reference[i]; num += d * d; den += (double)reference[i] * reference[i]; }
        return Math.Sqrt(num / den);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void FixtureFastPathLogitsStayCloseToTheExactPath(string format)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var rt = Load(tiny, format);
        foreach (var (name, l) in rt.Model.NamedLinears())
        {
            var q = l.Should().BeOfType<QuantLinear>().Subject;
            q.Weight.HostPacked<Int8TiledWeights>(_ => null).Should().NotBeNull($"{name} was repacked at load");
        }
        int[] ids = LlamaFixtures.Prompt;
        float[] exact, fast;
        using (QuantizedInference.Scope(true)) exact = rt.Logits(ids);
        using (QuantizedInference.Scope(false)) fast = rt.Logits(ids);
        var (reference, _) = LlamaFixtures.Reference(tiny, "logits");
        double fastVsExact = RelativeError(fast, exact), exactVsF32 = RelativeError(exact, reference);
        output.WriteLine($"{format}: logits relative error fast vs exact {fastVsExact:E3}; exact vs HF F32 {exactVsF32:E3}; fast vs HF F32 {RelativeError(fast, reference):E3}");
        fastVsExact.Should().BeGreaterThan(0, "the switch selects a different path");
        if (format.StartsWith("nf4", StringComparison.Ordinal))
            fastVsExact.Should().BeLessThan(0.03, "int8 activations plus NF4's levels on a 7-bit grid (≤ 0.8 % of the block absmax per weight) move the logits by well under 2 %");
        else
            fastVsExact.Should().BeLessThan(0.02, "int8 activations (≤ 0.4 % per element) move the logits by well under 1 %");
        RelativeError(fast, reference).Should().BeLessThan(2 * Math.Max(exactVsF32, 0.01), "activation quantization adds at most about the weight quantization's own error");

    }

    /// <summary>
    /// q/k/v and gate/up under one fork (<see cref="LinearGroup"/> → <see cref="Int8TiledMatmul.RunMany"/>): each output
    /// bitwise what the layer's own Forward gives, for every int8-tile format, one row and several.
    /// </summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void FixtureGroupedProductsEqualTheLayersAlone(string format)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var rt = Load(tiny, format);
        var layer = rt.Model.Layers[0];
        var groups = new[]
        {
            new[] { layer.Attention.QProj, layer.Attention.KProj, layer.Attention.VProj },
            new[] { layer.Mlp.GateProj, layer.Mlp.UpProj },
        };
        using var _ = PureLlama.Autograd.GradMode.NoGrad();
        using var fast = QuantizedInference.Scope(exactDequant: false);
        foreach (int rows in new[] { 1, 5 })
            foreach (var group in groups)
            {
                using var x = Tensor.RandN(new Shape(rows, rt.Model.Config.HiddenSize), new Rng((ulong)(rows * 17 + format.Length)));
                var weights = group.Select(l => ((QuantLinear)l).Weight).ToArray();
                var direct = weights.Select(w => Tensor.Empty(new Shape(rows, w.Rows), DType.F32, Device.Cpu)).ToArray();
                var together = LinearGroup.Forward(x, group);
                try
                {
                    ((CpuBackend)x.Backend).TryInt8DotMatMulMany(x, weights, direct).Should().BeTrue($"every {format} weight has int8 tiles");
                    for (int i = 0; i < group.Length; i++)
                    {
                        using var alone = group[i].Forward(x);
                        var a = alone.ToFloatArray();
                        foreach (var (t, what) in new[] { (together[i], "LinearGroup"), (direct[i], "TryInt8DotMatMulMany") })
                        {
                            var b = t.ToFloatArray();
                            b.Should().Equal(a, (p, q) => BitConverter.SingleToInt32Bits(p) == BitConverter.SingleToInt32Bits(q), $"{what}, output {i}, {rows} rows");
                        }
                    }
                }
                finally { foreach (var t in together.Concat(direct)) t.Dispose(); }
            }
    }
}
