using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Tests.Autograd;

/// <summary>Every differentiable op against float64 central differences, on every backend present.</summary>
public class GradCheckTests
{
    private const double Tolerance = 2e-3;

    /// <summary>
    /// The CPU and CUDA (when present). Not ILGPU's CPU accelerator: its thread-per-GPU-thread
    /// simulator turns each probe into seconds, and the autograd functions are the same on every
    /// device — the GPU forward and backward kernels themselves are checked against float64
    /// references there by the kernel checks.
    /// </summary>
    public static TheoryData<string> Devices()
    {
        var d = new TheoryData<string>();
        foreach (var device in Backends.Available())
            if (device.Kind != DeviceKind.IlgpuCpu) d.Add(device.ToString());
        return d;
    }

    /// <summary>
    /// Elements probed per input: every one on real devices (up to 64); 12 on ILGPU's CPU accelerator,
    /// where each probe is two forward passes through the thread-per-GPU-thread simulator.
    /// </summary>
    internal static int ElementsToCheck(Device device) => device.Kind == DeviceKind.IlgpuCpu ? 12 : 64;

    internal static Tensor Leaf(Device dev, ulong seed, params int[] shape)
    {
        var t = Tensor.RandU(new Shape(shape), new Rng(seed), -1f, 1f, DType.F32, dev);
        t.RequiresGrad = true;
        return t;
    }

    private static void Check(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var worst = GradCheck.Run(f, inputs, maxElementsPerInput: ElementsToCheck(inputs[0].Device));
        worst.RelativeError.Should().BeLessThan(Tolerance, worst.ToString());
        foreach (var t in inputs) t.Dispose();
    }

    [Theory, MemberData(nameof(Devices))]
    public void MatMul(string device)
    {
        var d = Device.Parse(device);
        Check(x => Ops.MatMul(x[0], x[1]), Leaf(d, 1, 5, 7), Leaf(d, 2, 7, 3));
        Check(x => Ops.MatMul(x[0], x[1], transB: true), Leaf(d, 3, 5, 7), Leaf(d, 4, 3, 7));
        Check(x => Ops.MatMul(x[0], x[1], transA: true, transB: true), Leaf(d, 5, 7, 5), Leaf(d, 6, 3, 7));
        Check(x => Ops.Linear(x[0], x[1]), Leaf(d, 7, 2, 3, 6), Leaf(d, 8, 4, 6));          // batch with a shared weight
        Check(x => Ops.MatMul(x[0], x[1]), Leaf(d, 9, 2, 3, 6), Leaf(d, 10, 2, 6, 4));      // batched both
        Check(x => Ops.MatMul(x[0].T, x[1]), Leaf(d, 11, 6, 5), Leaf(d, 12, 6, 4));        // transposed view input
    }

    [Theory, MemberData(nameof(Devices))]
    public void Elementwise_with_broadcasting(string device)
    {
        var d = Device.Parse(device);
        Check(x => x[0] + x[1], Leaf(d, 1, 4, 5), Leaf(d, 2, 5));
        Check(x => x[0] - x[1], Leaf(d, 3, 4, 5), Leaf(d, 4, 4, 1));
        Check(x => x[0] * x[1], Leaf(d, 5, 3, 4, 5), Leaf(d, 6, 4, 5));
        var denominator = Tensor.FromArray(Enumerable.Range(0, 5).Select(i => 1.5f + 0.3f * i).ToArray(), new Shape(5), d);
        denominator.RequiresGrad = true;
        Check(x => x[0] / x[1], Leaf(d, 7, 4, 5), denominator);
        Check(x => x[0] * 2.5f, Leaf(d, 8, 3, 3));
    }

    [Theory, MemberData(nameof(Devices))]
    public void Reductions(string device)
    {
        var d = Device.Parse(device);
        Check(x => Ops.Sum(x[0]), Leaf(d, 1, 4, 5));
        Check(x => Ops.Mean(x[0]), Leaf(d, 2, 3, 7));
    }

    [Theory, MemberData(nameof(Devices))]
    public void RmsNorm(string device)
    {
        var d = Device.Parse(device);
        Check(x => Ops.RmsNorm(x[0], x[1], 1e-5f), Leaf(d, 1, 3, 4, 9), Leaf(d, 2, 9));
    }

    [Theory, MemberData(nameof(Devices))]
    public unsafe void Rope(string device)
    {
        var d = Device.Parse(device);
        int headDim = 8, maxPos = 16;
        var inv = RopeFrequencies.InverseFrequencies(headDim, 10000, null);
        var cos = new float[maxPos * headDim / 2];
        var sin = new float[maxPos * headDim / 2];
        fixed (float* pc = cos, ps = sin) RopeFrequencies.BuildTables(inv, maxPos, pc, ps);
        using var tc = Tensor.FromArray(cos, new Shape(maxPos, headDim / 2), d);
        using var ts = Tensor.FromArray(sin, new Shape(maxPos, headDim / 2), d);
        using var pos = Tensor.FromArray(new[] { 3, 0, 15, 7, 9 }, new Shape(5), d);
        Check(x => Ops.Rope(x[0], pos, tc, ts), Leaf(d, 1, 5, 2, headDim));
    }

    [Theory, MemberData(nameof(Devices))]
    public void Activations_and_softmax(string device)
    {
        var d = Device.Parse(device);
        foreach (var op in UnaryOp.All)
        {
            Check(x => Ops.Unary(op, x[0]), Leaf(d, 1, 4, 6));
            Check(x => Ops.Gated(op, x[0], x[1]), Leaf(d, 2, 4, 6), Leaf(d, 3, 4, 6));
        }
        Check(x => Ops.Softmax(x[0]), Leaf(d, 4, 3, 7));
    }

    [Theory, MemberData(nameof(Devices))]
    public void CrossEntropy_with_ignored_targets(string device)
    {
        var d = Device.Parse(device);
        using var targets = Tensor.FromArray(new[] { 2, -100, 0, 5, -100, 1 }, new Shape(6), d);
        Check(x => Ops.CrossEntropy(x[0], targets), Leaf(d, 1, 6, 7));
        Check(x => Ops.CrossEntropy(x[0], targets, normalizer: 10f), Leaf(d, 2, 6, 7));
    }

    [Theory, MemberData(nameof(Devices))]
    public void Embedding(string device)
    {
        var d = Device.Parse(device);
        using var ids = Tensor.FromArray(new[] { 3, 1, 3, 0, 4, 3 }, new Shape(2, 3), d);
        Check(x => Ops.Embedding(x[0], ids), Leaf(d, 1, 6, 5));
    }

    [Theory, MemberData(nameof(Devices))]
    public void Views(string device)
    {
        var d = Device.Parse(device);
        Check(x => x[0].Reshape(6, 4), Leaf(d, 1, 2, 3, 4));
        Check(x => x[0].Transpose(0, 2).Contiguous(), Leaf(d, 2, 2, 3, 4));
        Check(x => x[0].Slice(1, 1, 2).Contiguous(), Leaf(d, 3, 2, 4, 3));
        Check(x => x[0].Transpose(0, 1).Reshape(12), Leaf(d, 4, 3, 4));                    // reshape of a non-contiguous view copies
        Check(x => Ops.Sum(x[0].Slice(0, 1, 2) * x[0].Slice(0, 0, 2)), Leaf(d, 5, 3, 5));  // one input used twice
    }
}
