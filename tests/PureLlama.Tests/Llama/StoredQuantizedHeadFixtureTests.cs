using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Nn;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tests.IO;

namespace PureLlama.Tests.Llama;

/// <summary>
/// A folder stored in a bitsandbytes format (written by <see cref="CheckpointQuantizer"/> from the tiny fixture) takes the
/// lm_head options (--quantize-lm-head, --lm-head-format) as quantize-on-load of the dense folder does, tied heads
/// included; a head stored quantized in another format is refused with the option and the folder named.
/// </summary>
public sealed class StoredQuantizedHeadFixtureTests
{
    private static readonly Device Cpu = Device.Cpu;

    [Theory]
    [InlineData("nf4", null, false)]
    [InlineData("nf4", "q8_0", true)]
    [InlineData("int8", "q4_0", false)]
    [InlineData("int8", null, true)]
    public void Fixture_lm_head_options_quantize_the_dense_head_of_a_stored_folder(string format, string? headFormat, bool tied)
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string source = QuantizedLlamaFixtureTests.Source(tiny, dir, tied), stored = dir.File("stored");
        var storedConfig = format == "nf4" ? QuantizationConfig.Nf4() : QuantizationConfig.Int8();
        CheckpointQuantizer.Quantize(source, stored, storedConfig);
        var options = storedConfig with { SkipModules = [], LmHeadFormat = headFormat is null ? null : QuantizationConfig.ParseLmHeadFormat(headFormat) };

        using var asStored = LlamaRuntime.Load(stored, Cpu, WeightLoading.Mapped);
        using var withHead = LlamaRuntime.Load(stored, Cpu, WeightLoading.Copied, quantize: options);
        asStored.Model.LmHead.Should().BeOfType<Linear>("bitsandbytes stores lm_head dense");
        var head = withHead.Model.LmHead.Should().BeOfType<QuantLinear>().Subject;
        head.Weight.Format.Should().Be(options.LmHeadFormat ?? storedConfig.Format);
        withHead.Model.EmbedTokens.Table.DType.Should().Be(DType.F32, "the embedding gather keeps the dense table");
        withHead.Model.Layers[0].Mlp.UpProj.Should().BeOfType<QuantLinear>().Which.Weight.Format.Should().Be(storedConfig.Format);

        // The head is the quantization of the stored dense head (the embedding table when tied), bit for bit, and the
        // logits are those of quantize-on-load of the dense folder with the same options.
        using var expected = options.QuantizeLmHead(asStored.Model.LmHead.DenseWeight());
        head.Weight.Components.Should().HaveSameCount(expected.Components);
        for (int i = 0; i < expected.Components.Count; i++)
            QuantizedLlamaFixtureTests.RawBytes(head.Weight.Components[i]).Should().Equal(QuantizedLlamaFixtureTests.RawBytes(expected.Components[i]));
        using var onLoad = LlamaRuntime.Load(source, Cpu, WeightLoading.Copied, quantize: options);
        withHead.Logits(LlamaFixtures.Prompt).Should().Equal(onLoad.Logits(LlamaFixtures.Prompt));
    }

    [Fact]
    public void Fixture_a_head_stored_quantized_is_kept_or_refused_never_ignored()
    {
        if (LlamaFixtures.FindTiny() is not { } tiny) return;
        using var dir = new TempDir();
        string stored = dir.File("stored");
        var storedConfig = QuantizationConfig.Nf4() with { SkipModules = [] };   // lm_head stored NF4 too
        CheckpointQuantizer.Quantize(Path.Combine(tiny, "f32"), stored, storedConfig);

        using var asStored = LlamaRuntime.Load(stored, Cpu);
        using var sameFormat = LlamaRuntime.Load(stored, Cpu, quantize: storedConfig with { LmHeadFormat = QuantFormat.Nf4 });
        sameFormat.Model.LmHead.Should().BeOfType<QuantLinear>().Which.Weight.Format.Should().Be(QuantFormat.Nf4);
        sameFormat.Logits(LlamaFixtures.Prompt).Should().Equal(asStored.Logits(LlamaFixtures.Prompt), "the stored NF4 head is the head asked for");

        FluentActions.Invoking(() => LlamaRuntime.Load(stored, Cpu, quantize: storedConfig with { LmHeadFormat = QuantFormat.Q8_0 }))
            .Should().Throw<InvalidDataException>().WithMessage($"*{stored}*lm_head*Nf4*--lm-head-format Q8_0*");
    }
}
