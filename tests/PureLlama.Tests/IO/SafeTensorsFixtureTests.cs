using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO;

public unsafe class SafeTensorsFixtureTests(ITestOutputHelper output)
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

    [Theory]
    [InlineData("f32")]
    [InlineData("bf16")]
    public void Fixture_mapped_and_copied_loads_hold_the_same_bytes(string variant)
    {
        string? dir = Fixtures.Get($"llama3-tiny/{variant}", output);
        if (dir is null) return;
        using var mapped = HfCheckpoint.Open(dir, WeightLoading.Mapped);
        using var copied = HfCheckpoint.Open(dir, WeightLoading.Copied);
        mapped.TensorNames.Should().Equal(copied.TensorNames);
        foreach (var name in mapped.TensorNames)
        {
            using var a = mapped.GetTensor(name);
            using var b = copied.GetTensor(name);
            a.Storage.Should().BeOfType<MappedStorage>();
            b.Storage.Should().BeOfType<NativeStorage>();
            ((long)b.Pointer<byte>() % NativeStorage.Alignment).Should().Be(0, "copied tensors are 64-byte aligned");
            TempDir.Raw(a).Should().Equal(TempDir.Raw(b), $"tensor {name}");
        }
    }

    [Fact]
    public void Fixture_bf16_weights_are_the_f32_weights_rounded()
    {
        string? f32 = Fixtures.Get("llama3-tiny/f32", output), bf16 = Fixtures.Get("llama3-tiny/bf16", output);
        if (f32 is null || bf16 is null) return;
        using var a = HfCheckpoint.Open(f32);
        using var b = HfCheckpoint.Open(bf16);
        using var wa = a.GetTensor("model.layers.1.mlp.down_proj.weight");
        using var wb = b.GetTensor("model.layers.1.mlp.down_proj.weight");
        var x = wa.ToFloatArray();
        var y = wb.ToFloatArray();
        for (int i = 0; i < x.Length; i++) Math.Abs(x[i] - y[i]).Should().BeLessThanOrEqualTo(Math.Abs(x[i]) / 128f + 1e-30f);
    }

    [Fact]
    public void Fixture_reference_safetensors_loads_with_documented_shapes()
    {
        string? path = Fixtures.Get("llama3-tiny/reference.safetensors", output);
        if (path is null) return;
        foreach (var loading in new[] { WeightLoading.Copied, WeightLoading.Mapped })
        {
            using var file = SafeTensorsFile.Open(path, loading);
            file.Info("logits").Shape.Should().Be(new Shape(16, 256));
            file.Info("hidden_states").Shape.Should().Be(new Shape(3, 16, 64));
            file.Info("bf16_weights_logits_f32_compute").Shape.Should().Be(new Shape(16, 256));
            file.Info("bf16_weights_logits_bf16_compute").Shape.Should().Be(new Shape(16, 256));
            file.Tensors.Should().OnlyContain(t => t.DType == DType.F32);
            using var logits = file.GetTensor("logits");
            var v = logits.ToArray<float>();
            v.Should().OnlyContain(x => float.IsFinite(x) && Math.Abs(x) < 100);
            v.Max().Should().BeGreaterThan(1f);
        }
    }

    [Fact]
    public void Fixture_tensor_views_outlive_the_checkpoint()
    {
        string? dir = Fixtures.Get("llama3-tiny/f32", output);
        if (dir is null) return;
        Tensor t;
        float[] before;
        using (var ckpt = HfCheckpoint.Open(dir, WeightLoading.Mapped))
        {
            t = ckpt.GetTensor("model.norm.weight");
            before = t.ToArray<float>();
        }
        using (t)
        {
            t.Storage.IsReleased.Should().BeFalse();
            t.ToArray<float>().Should().Equal(before);
        }
        t.Storage.IsReleased.Should().BeTrue("the last holder was disposed");
    }

    [Fact]
    public void Fixture_copied_checkpoint_frees_its_memory_when_all_holders_are_disposed()
    {
        string? dir = Fixtures.Get("llama3-tiny/f32", output);
        if (dir is null) return;
        var ckpt = HfCheckpoint.Open(dir, WeightLoading.Copied);
        var t = ckpt.GetTensor("lm_head.weight");
        ckpt.Dispose();
        t.Storage.IsReleased.Should().BeFalse();
        t.Dispose();
        t.Storage.IsReleased.Should().BeTrue();
        var act = () => ckpt.GetTensor("lm_head.weight");
        act.Should().Throw<ObjectDisposedException>();
    }
}
