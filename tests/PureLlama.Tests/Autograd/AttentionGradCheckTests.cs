using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Tests.Autograd;

/// <summary>Ops.Attention (FlashAttention backward kernel) against float64 central differences, on every backend present.</summary>
public class AttentionGradCheckTests
{
    public static TheoryData<string> Devices()
    {
        var d = new TheoryData<string>();
        foreach (var device in Backends.Available()) d.Add(device.ToString());
        return d;
    }

    private static Tensor Leaf(Device dev, ulong seed, params int[] shape)
    {
        var t = Tensor.RandU(new Shape(shape), new Rng(seed), -1f, 1f, DType.F32, dev);
        t.RequiresGrad = true;
        return t;
    }

    private static void Check(Device d, int tokens, int kvLen, int heads, int kvHeads, int headDim, AttentionSettings s, int[]? segments = null)
    {
        using var seg = segments is null ? null : Tensor.FromSpan<int>(segments, new Shape(segments.Length), DType.I32, d);
        var inputs = new[] { Leaf(d, 1, tokens, heads, headDim), Leaf(d, 2, kvLen, kvHeads, headDim), Leaf(d, 3, kvLen, kvHeads, headDim) };
        var worst = GradCheck.Run(x => Ops.Attention(x[0], x[1], x[2], s, seg, seg), inputs);
        worst.RelativeError.Should().BeLessThan(2e-3, worst.ToString());
        foreach (var t in inputs) t.Dispose();
    }

    [Theory, MemberData(nameof(Devices))]
    public void Causal_gqa(string device) => Check(Device.Parse(device), 5, 5, 4, 2, 8, AttentionSettings.For(8));

    [Theory, MemberData(nameof(Devices))]
    public void Non_causal(string device) => Check(Device.Parse(device), 3, 6, 2, 1, 8, AttentionSettings.For(8, causal: false));

    [Theory, MemberData(nameof(Devices))]
    public void Window_and_offset(string device) => Check(Device.Parse(device), 4, 7, 2, 2, 16, AttentionSettings.For(16, window: 3, queryOffset: 3));

    [Theory, MemberData(nameof(Devices))]
    public void Packed_segments(string device) => Check(Device.Parse(device), 6, 6, 2, 1, 8, AttentionSettings.For(8), [0, 0, 1, 1, 1, 2]);
}
