using PureLlama.Compute;
using PureLlama.Kernels;
using PureLlama.Kernels.Reference;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

internal static partial class KernelChecks
{
    // 8-bit AdamW, 3 steps from the zero state. Each step's float64 reference starts from the
    // kernel's own state (parameters, codes, absmaxes), so errors do not compound and every code is
    // checked: a code may differ from the reference's only by one, where m/absmax lies within
    // rounding of the midpoint between the two codes. The state is in/out and cannot be poisoned;
    // an element left unwritten keeps its old code or value and fails the comparison.
    private static KernelCheck AdamW8bit(int n) => new("adamw 8-bit", $"[{n}] 3 steps", be =>
    {
        var rng = new Rng((ulong)Seed("adamw8", n));
        int blocks = (int)Kernels.Simd.SimdAdamW8bit.Blocks(n);
        using var tp = Upload(be, Random(rng, n), n);
        using var tmq = Tensor.FromSpan<byte>(Enumerable.Repeat(DynamicMap.SignedZero, n).ToArray(), new Shape(n), DType.U8, be.Device);
        using var tvq = Tensor.Zeros(new Shape(n), DType.U8, be.Device);
        using var tma = Tensor.Zeros(new Shape(blocks), DType.F32, be.Device);
        using var tva = Tensor.Zeros(new Shape(blocks), DType.F32, be.Device);
        var settings = new AdamWSettings(1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f);
        var results = new List<KernelCheckResult>();
        string shape = $"[{n}]";
        for (int step = 1; step <= 3; step++)
        {
            var g = Random(rng, n, -step, step);
            var pd = ToDouble(tp.ToFloatArray());
            var mq = tmq.ToArray<byte>(); var vq = tvq.ToArray<byte>();
            var ma = ToDouble(tma.ToFloatArray()); var va = ToDouble(tva.ToFloatArray());
            var xm = new double[n]; var xv = new double[n];
            ReferenceAdamW8bit.Step(pd, g, mq, ma, vq, va, xm, xv, settings.LearningRate, settings.Beta1, settings.Beta2, settings.Eps, settings.WeightDecay, step);
            using var tg = Upload(be, g, n);
            be.AdamW8bit(tp, tg, tmq, tma, tvq, tva, settings, step);
            results.Add(Compare("adamw 8-bit param", shape, tp, pd, F32Tol));
            results.Add(Compare("adamw 8-bit m absmax", shape, tma, ma, F32Tol));
            results.Add(Compare("adamw 8-bit v absmax", shape, tva, va, F32Tol));
            string? bad = CodeMismatch("m", DynamicMap.Signed, tmq.ToArray<byte>(), mq, xm) ?? CodeMismatch("v", DynamicMap.Unsigned, tvq.ToArray<byte>(), vq, xv);
            if (bad is not null) return new("adamw 8-bit", shape, 1, 1, 0, $"step {step}: {bad}");
        }
        return Worst([.. results]);
    });

    // null when every code equals the reference's or is its neighbour across a near-tie midpoint.
    private static string? CodeMismatch(string which, float[] map, byte[] got, byte[] expected, double[] x)
    {
        for (int i = 0; i < got.Length; i++)
        {
            if (got[i] == expected[i]) continue;
            int lo = Math.Min(got[i], expected[i]), hi = Math.Max(got[i], expected[i]);
            double mid = 0.5 * ((double)map[lo] + map[hi]);
            if (hi - lo == 1 && Math.Abs(x[i] - mid) <= 1e-5 * Math.Abs(x[i]) + 1e-12) continue;
            return $"{which} code [{i}] is {got[i]} ({map[got[i]]:G6}), expected {expected[i]} ({map[expected[i]]:G6}) for x = {x[i]:G9}";
        }
        return null;
    }
}
