using PureLlama.Autograd;
using PureLlama.Compute;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;

namespace PureLlama.Diagnostics;

/// <summary>
/// The gradient mode of the harness: every differentiable op of <see cref="Ops"/> against float64 central differences
/// (<see cref="GradCheck"/>: L = Σ f(x)·R for a fixed random R, h = 1e-2), as <see cref="KernelCheck"/>s so the tests,
/// <c>purellama selftest --mode grad</c> and every backend share one list. A result's relative error is the worst
/// |analytic − numeric| / max(1, |numeric|) over the probed elements; the bound is <see cref="Tolerance"/>.
/// </summary>
internal static class GradChecks
{
    /// <summary>Largest accepted relative error (central differences on F32 ops: truncation O(h²) plus rounding).</summary>
    public const double Tolerance = 2e-3;

    /// <summary>
    /// Elements probed per input: every one on real devices (up to 64); 12 on ILGPU's CPU accelerator, where each probe
    /// is two forward passes through the thread-per-GPU-thread simulator.
    /// </summary>
    public static int ElementsToCheck(Device device) => device.Kind == DeviceKind.IlgpuCpu ? 12 : 64;

    /// <summary>A uniform(−1, 1) F32 leaf that requires grad.</summary>
    public static Tensor Leaf(Device dev, ulong seed, params int[] shape)
    {
        var t = Tensor.RandU(new Shape(shape), new Rng(seed), -1f, 1f, DType.F32, dev);
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>One problem: the leaves probed, the function of them, and constant tensors it holds (disposed after).</summary>
    private sealed record Problem(Tensor[] Inputs, Func<Tensor[], Tensor> F, params Tensor[] Held);

    private static KernelCheck Case(string op, string shape, Func<Device, Problem> make) => new($"grad {op}", shape, be =>
    {
        var p = make(be.Device);
        try
        {
            var worst = GradCheck.Run(p.F, p.Inputs, maxElementsPerInput: ElementsToCheck(be.Device));
            return new KernelCheckResult($"grad {op}", shape, worst.RelativeError, Math.Abs(worst.Analytic - worst.Numeric), Tolerance,
                double.IsFinite(worst.RelativeError) ? null : worst.ToString());
        }
        finally
        {
            foreach (var t in p.Inputs) t.Dispose();
            foreach (var t in p.Held) t.Dispose();
        }
    });

    /// <summary>Every gradient check (the same list on every device).</summary>
    public static IReadOnlyList<KernelCheck> For(Device device)
    {
        _ = device;
        var list = new List<KernelCheck>
        {
            Case("matmul", "[5,7]·[7,3]", d => new([Leaf(d, 1, 5, 7), Leaf(d, 2, 7, 3)], x => Ops.MatMul(x[0], x[1]))),
            Case("matmul", "[5,7]·[3,7]ᵀ", d => new([Leaf(d, 3, 5, 7), Leaf(d, 4, 3, 7)], x => Ops.MatMul(x[0], x[1], transB: true))),
            Case("matmul", "[7,5]ᵀ·[3,7]ᵀ", d => new([Leaf(d, 5, 7, 5), Leaf(d, 6, 3, 7)], x => Ops.MatMul(x[0], x[1], transA: true, transB: true))),
            Case("linear", "[2,3,6]·[4,6]ᵀ shared weight", d => new([Leaf(d, 7, 2, 3, 6), Leaf(d, 8, 4, 6)], x => Ops.Linear(x[0], x[1]))),
            Case("matmul", "[2,3,6]·[2,6,4] batched", d => new([Leaf(d, 9, 2, 3, 6), Leaf(d, 10, 2, 6, 4)], x => Ops.MatMul(x[0], x[1]))),
            Case("matmul", "[6,5]ᵀ view·[6,4]", d => new([Leaf(d, 11, 6, 5), Leaf(d, 12, 6, 4)], x => Ops.MatMul(x[0].T, x[1]))),
            Case("add", "[4,5]+[5]", d => new([Leaf(d, 1, 4, 5), Leaf(d, 2, 5)], x => x[0] + x[1])),
            Case("sub", "[4,5]−[4,1]", d => new([Leaf(d, 3, 4, 5), Leaf(d, 4, 4, 1)], x => x[0] - x[1])),
            Case("mul", "[3,4,5]·[4,5]", d => new([Leaf(d, 5, 3, 4, 5), Leaf(d, 6, 4, 5)], x => x[0] * x[1])),
            Case("div", "[4,5]/[5]", d => new([Leaf(d, 7, 4, 5), Denominator(d, 5)], x => x[0] / x[1])),
            Case("scale", "[3,3]·2.5", d => new([Leaf(d, 8, 3, 3)], x => x[0] * 2.5f)),
            Case("sum", "[4,5]", d => new([Leaf(d, 1, 4, 5)], x => Ops.Sum(x[0]))),
            Case("mean", "[3,7]", d => new([Leaf(d, 2, 3, 7)], x => Ops.Mean(x[0]))),
            Case("rmsnorm", "[3,4,9]", d => new([Leaf(d, 1, 3, 4, 9), Leaf(d, 2, 9)], x => Ops.RmsNorm(x[0], x[1], 1e-5f))),
            Case("rope", "[5,2,8]", Rope),
            Case("softmax", "[3,7]", d => new([Leaf(d, 4, 3, 7)], x => Ops.Softmax(x[0]))),
            Case("cross-entropy", "[6,7] ignore=-100", d => CrossEntropy(d, 1, null)),
            Case("cross-entropy", "[6,7] normalizer=10", d => CrossEntropy(d, 2, 10f)),
            Case("embedding", "[2,3] ids of [6,5]", Embedding),
            Case("reshape", "[2,3,4]→[6,4]", d => new([Leaf(d, 1, 2, 3, 4)], x => x[0].Reshape(6, 4))),
            Case("transpose", "[2,3,4] 0↔2", d => new([Leaf(d, 2, 2, 3, 4)], x => x[0].Transpose(0, 2).Contiguous())),
            Case("slice", "[2,4,3] dim 1", d => new([Leaf(d, 3, 2, 4, 3)], x => x[0].Slice(1, 1, 2).Contiguous())),
            Case("reshape", "[3,4]ᵀ→[12] (copies)", d => new([Leaf(d, 4, 3, 4)], x => x[0].Transpose(0, 1).Reshape(12))),
            Case("slice", "one input used twice", d => new([Leaf(d, 5, 3, 5)], x => Ops.Sum(x[0].Slice(0, 1, 2) * x[0].Slice(0, 0, 2)))),
            Case("attention", "q5 kv5 h4/2 d8 causal", d => Attention(d, 5, 5, 4, 2, 8, AttentionSettings.For(8))),
            Case("attention", "q3 kv6 h2/1 d8", d => Attention(d, 3, 6, 2, 1, 8, AttentionSettings.For(8, causal: false))),
            Case("attention", "q4 kv7 h2/2 d16 w3 off3", d => Attention(d, 4, 7, 2, 2, 16, AttentionSettings.For(16, window: 3, queryOffset: 3))),
            Case("attention", "q6 kv6 h2/1 d8 packed", d => Attention(d, 6, 6, 2, 1, 8, AttentionSettings.For(8), [0, 0, 1, 1, 1, 2])),
        };
        foreach (var op in UnaryOp.All)
        {
            list.Add(Case($"unary {op}", "[4,6]", d => new([Leaf(d, 1, 4, 6)], x => Ops.Unary(op, x[0]))));
            list.Add(Case($"gated {op}", "[4,6]", d => new([Leaf(d, 2, 4, 6), Leaf(d, 3, 4, 6)], x => Ops.Gated(op, x[0], x[1]))));
        }
        return list;
    }

    private static Tensor Denominator(Device d, int n)
    {
        var t = Tensor.FromArray(Enumerable.Range(0, n).Select(i => 1.5f + 0.3f * i).ToArray(), new Shape(n), d);
        t.RequiresGrad = true;
        return t;
    }

    private static unsafe Problem Rope(Device d)
    {
        int headDim = 8, maxPos = 16;
        var inv = RopeFrequencies.InverseFrequencies(headDim, 10000, null);
        var cos = new float[maxPos * headDim / 2];
        var sin = new float[maxPos * headDim / 2];
        fixed (float* pc = cos, ps = sin) RopeFrequencies.BuildTables(inv, maxPos, pc, ps);
        var tc = Tensor.FromArray(cos, new Shape(maxPos, headDim / 2), d);
        var ts = Tensor.FromArray(sin, new Shape(maxPos, headDim / 2), d);
        var pos = Tensor.FromArray(new[] { 3, 0, 15, 7, 9 }, new Shape(5), d);
        return new([Leaf(d, 1, 5, 2, headDim)], x => Ops.Rope(x[0], pos, tc, ts), tc, ts, pos);
    }

    private static Problem CrossEntropy(Device d, ulong seed, float? normalizer)
    {
        var targets = Tensor.FromArray(new[] { 2, -100, 0, 5, -100, 1 }, new Shape(6), d);
        return new([Leaf(d, seed, 6, 7)], x => normalizer is { } n ? Ops.CrossEntropy(x[0], targets, normalizer: n) : Ops.CrossEntropy(x[0], targets), targets);
    }

    private static Problem Embedding(Device d)
    {
        var ids = Tensor.FromArray(new[] { 3, 1, 3, 0, 4, 3 }, new Shape(2, 3), d);
        return new([Leaf(d, 1, 6, 5)], x => Ops.Embedding(x[0], ids), ids);
    }

    private static Problem Attention(Device d, int tokens, int kvLen, int heads, int kvHeads, int headDim, AttentionSettings s, int[]? segments = null)
    {
        var seg = segments is null ? null : Tensor.FromSpan<int>(segments, new Shape(segments.Length), DType.I32, d);
        var inputs = new[] { Leaf(d, 1, tokens, heads, headDim), Leaf(d, 2, kvLen, kvHeads, headDim), Leaf(d, 3, kvLen, kvHeads, headDim) };
        return new(inputs, x => Ops.Attention(x[0], x[1], x[2], s, seg, seg), seg is null ? [] : [seg]);
    }
}
