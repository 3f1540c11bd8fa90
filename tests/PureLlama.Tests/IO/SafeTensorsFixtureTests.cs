using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO;

public class SafeTensorsFixtureTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("f32", WeightLoading.Copied, DType.F32)]
    [InlineData("f32", WeightLoading.Mapped, DType.F32)]
    [InlineData("bf16", WeightLoading.Copied, DType.BF16)]
    [InlineData("bf16", WeightLoading.Mapped, DType.BF16)]
    public void Fixture_tiny_checkpoint_has_every_expected_tensor(string variant, WeightLoading loading, DType dtype)
    {
        string? dir = Fixtures.Get($"llama3-tiny/{variant}", output);
        if (dir is null) return;
        var config = LlamaConfig.FromFile(Path.Combine(dir, "config.json"));
        config.HiddenSize.Should().Be(64);
        config.NumKeyValueHeads.Should().Be(2);
        config.HeadDim.Should().Be(16);
        config.EosTokenIds.Should().Equal(2);
        config.WeightDType.Should().Be(dtype);
        using var ckpt = HfCheckpoint.Open(dir, loading);
        ckpt.Loading.Should().Be(loading);
        config.Validate(ckpt);
        var expected = config.ExpectedTensors();
        expected.Should().HaveCount(2 * 9 + 3);
        ckpt.TensorNames.Should().BeEquivalentTo(expected.Select(e => e.Name));
        foreach (var spec in expected)
        {
            using var t = ckpt.GetTensor(spec.Name, spec.Shape, dtype);
            t.Shape.Should().Be(spec.Shape);
            t.DType.Should().Be(dtype);
            t.Storage.IsReadOnly.Should().Be(loading == WeightLoading.Mapped);
            t.ToFloatArray().Should().OnlyContain(v => float.IsFinite(v));
        }
    }
}
