using PureLlama.Compute;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

internal static partial class KernelChecks
{
    private static KernelCheck RmsNorm(int rows, int dim, bool bf16Weight) => new(bf16Weight ? "rmsnorm bf16-w" : "rmsnorm", $"[{rows},{dim}] fwd+bwd", be =>
    {
        var rng = new Rng((ulong)Seed("rmsnorm", rows, dim, bf16Weight ? 1 : 0));
        var x = Random(rng, rows * dim);
        var w = Random(rng, dim, 0.5f, 1.5f);
        ushort[]? wBits = null;
        if (bf16Weight) { wBits = Array.ConvertAll(w, ReferenceConvert.F32ToBf16); w = Array.ConvertAll(wBits, b => (float)ReferenceConvert.Bf16ToDouble(b)); }
        var dy = Random(rng, rows * dim);
        var dw0 = Random(rng, dim);
        const float eps = 1e-5f;
        var (yRef, rstdRef) = ReferenceRmsNorm.Forward(x, w, rows, dim, eps);
        using var tx = Upload(be, x, rows, dim);
        using var tw = bf16Weight ? UploadBf16(be, wBits!, dim) : Upload(be, w, dim);
        using var y = Poisoned(be, rows, dim);
        using var rstd = Poisoned(be, rows);
        Timed(be, "fwd", OpWork.Floats(2.0 * rows * dim + dim + rows), () => be.RmsNorm(tx, tw, eps, y, rstd));
        var rstdGot = rstd.ToArray<float>();
        var (dxRef, dwRef) = ReferenceRmsNorm.Backward(dy, x, w, rstdGot, dw0, rows, dim);
        using var tdy = Upload(be, dy, rows, dim);
        using var dx = Poisoned(be, rows, dim);
        using var dw = Upload(be, dw0, dim);
        Timed(be, "bwd", OpWork.Floats(3.0 * rows * dim + 2.0 * dim + rows), () => be.RmsNormBackward(tdy, tx, tw, rstd, dx, dw));
        double tol = dim >= 1000 ? LongTol : F32Tol;
        string shape = $"[{rows},{dim}]";
        return Worst(Compare("rmsnorm y", shape, y, yRef, tol), Compare("rmsnorm rstd", shape, rstdGot, rstdRef, tol),
            Compare("rmsnorm dx", shape, dx, dxRef, tol), Compare("rmsnorm dw", shape, dw, dwRef, rows >= 100 ? LongTol : tol));
    });

    private static unsafe KernelCheck Rope(int tokens, int heads, int headDim) => new("rope", $"[{tokens},{heads},{headDim}] fwd+inv", be =>
    {
        var rng = new Rng((ulong)Seed("rope", tokens, heads, headDim));
        int maxPos = tokens + 40, half = headDim / 2;
        var inv = RopeFrequencies.InverseFrequencies(headDim, 500000, new Llama3RopeScaling(8, 1, 4, 8192));
        var cos = new float[maxPos * half];
        var sin = new float[maxPos * half];
        fixed (float* pc = cos, ps = sin) RopeFrequencies.BuildTables(inv, maxPos, pc, ps);
        var x = Random(rng, tokens * heads * headDim);
        var positions = new int[tokens];
        for (int i = 0; i < tokens; i++) positions[i] = rng.NextInt(maxPos);
        using var tx = Upload(be, x, tokens, heads, headDim);
        using var tp = Upload(be, positions, tokens);
        using var tc = Upload(be, cos, maxPos, half);
        using var ts = Upload(be, sin, maxPos, half);
        using var y = Poisoned(be, tokens, heads, headDim);
        using var back = Poisoned(be, tokens, heads, headDim);
        Timed(be, "fwd", OpWork.Floats(2.0 * tokens * heads * headDim + tokens * headDim), () => be.Rope(tx, tp, tc, ts, y, inverse: false));
        be.Rope(tx, tp, tc, ts, back, inverse: true);
        string shape = $"[{tokens},{heads},{headDim}]";
        return Worst(
            Compare("rope", shape, y, ReferenceRope.Apply(x, tokens, heads, headDim, positions, cos, sin, false), F32Tol),
            Compare("rope inverse", shape, back, ReferenceRope.Apply(x, tokens, heads, headDim, positions, cos, sin, true), F32Tol));
    });

    private static KernelCheck Unary(UnaryOp op, int n) => new($"unary {op}", $"[{n}] fwd+bwd", be =>
    {
        var rng = new Rng((ulong)Seed("unary " + op, n));
        var x = Random(rng, n, -4, 4);
        var dy = Random(rng, n);
        using var tx = Upload(be, x, n);
        using var tdy = Upload(be, dy, n);
        using var y = Poisoned(be, n);
        using var dx = Poisoned(be, n);
        Timed(be, "fwd", OpWork.Floats(2.0 * n), () => be.Unary(op, tx, y));
        Timed(be, "bwd", OpWork.Floats(3.0 * n), () => be.UnaryBackward(op, tx, tdy, dx));
        var yRef = new double[n];
        var dxRef = new double[n];
        for (int i = 0; i < n; i++) { yRef[i] = op.Reference(x[i]); dxRef[i] = dy[i] * op.ReferenceDerivative(x[i]); }
        string shape = $"[{n}]";
        return Worst(Compare($"{op}", shape, y, yRef, F32Tol), Compare($"{op} bwd", shape, dx, dxRef, F32Tol));
    });

    private static KernelCheck Gated(UnaryOp op, int n) => new($"gated {op}", $"[{n}] fwd+bwd", be =>
    {
        var rng = new Rng((ulong)Seed("gated " + op, n));
        var g = Random(rng, n, -4, 4);
        var u = Random(rng, n);
        var dy = Random(rng, n);
        using var tg = Upload(be, g, n);
        using var tu = Upload(be, u, n);
        using var tdy = Upload(be, dy, n);
        using var y = Poisoned(be, n);
        using var dg = Poisoned(be, n);
        using var du = Poisoned(be, n);
        Timed(be, "fwd", OpWork.Floats(3.0 * n), () => be.Gated(op, tg, tu, y));
        Timed(be, "bwd", OpWork.Floats(5.0 * n), () => be.GatedBackward(op, tg, tu, tdy, dg, du));
        var yRef = new double[n];
        var dgRef = new double[n];
        var duRef = new double[n];
        for (int i = 0; i < n; i++)
        {
            double f = op.Reference(g[i]);
            yRef[i] = f * u[i];
            dgRef[i] = (double)dy[i] * u[i] * op.ReferenceDerivative(g[i]);
            duRef[i] = dy[i] * f;
        }
        string shape = $"[{n}]";
        return Worst(Compare($"gated {op}", shape, y, yRef, F32Tol),
            Compare($"gated {op} dgate", shape, dg, dgRef, F32Tol), Compare($"gated {op} dup", shape, du, duRef, F32Tol));
    });

    private static KernelCheck Softmax(int rows, int cols) => new("softmax", $"[{rows},{cols}] fwd+bwd", be =>
    {
        var rng = new Rng((ulong)Seed("softmax", rows, cols));
        var x = Random(rng, rows * cols, -8, 8);
        var dy = Random(rng, rows * cols);
        using var tx = Upload(be, x, rows, cols);
        using var y = Poisoned(be, rows, cols);
        Timed(be, "fwd", OpWork.Floats(2.0 * rows * cols), () => be.Softmax(tx, y));
        var yGot = y.ToArray<float>();
        using var tdy = Upload(be, dy, rows, cols);
        using var dx = Poisoned(be, rows, cols);
        Timed(be, "bwd", OpWork.Floats(3.0 * rows * cols), () => be.SoftmaxBackward(y, tdy, dx));
        string shape = $"[{rows},{cols}]";
        return Worst(Compare("softmax", shape, yGot, ReferenceSoftmax.Forward(x, rows, cols), F32Tol),
            Compare("softmax bwd", shape, dx, ReferenceSoftmax.Backward(yGot, dy, rows, cols), F32Tol));
    });

    private static KernelCheck CrossEntropy(int rows, int vocab) => new("cross-entropy", $"[{rows},{vocab}] ignore=-100", be =>
    {
        var rng = new Rng((ulong)Seed("xent", rows, vocab));
        var logits = Random(rng, rows * vocab, -6, 6);
        var targets = new int[rows];
        for (int i = 0; i < rows; i++) targets[i] = i % 3 == 2 ? -100 : rng.NextInt(vocab);
        using var tl = Upload(be, logits, rows, vocab);
        using var tt = Upload(be, targets, rows);
        using var loss = Poisoned(be, rows);
        using var lse = Poisoned(be, rows);
        Timed(be, "fwd", OpWork.Floats((double)rows * vocab + 3.0 * rows), () => be.CrossEntropy(tl, tt, -100, loss, lse));
        var (lossRef, lseRef) = ReferenceCrossEntropy.Forward(logits, targets, rows, vocab, -100);
        var lseGot = lse.ToArray<float>();
        using var d = Poisoned(be, rows, vocab);
        Timed(be, "bwd", OpWork.Floats(2.0 * rows * vocab + 2.0 * rows), () => be.CrossEntropyBackward(tl, tt, lse, -100, 0.37f, d));
        string shape = $"[{rows},{vocab}]";
        return Worst(Compare("xent loss", shape, loss, lossRef, F32Tol), Compare("xent lse", shape, lseGot, lseRef, F32Tol),
            Compare("xent bwd", shape, d, ReferenceCrossEntropy.Backward(logits, targets, lseGot, rows, vocab, -100, 0.37), F32Tol));
    });

    private static KernelCheck Embedding(int n, int dim, int vocab, bool bf16) => new(bf16 ? "embedding bf16" : "embedding", $"{n} ids × {dim} of {vocab}", be =>
    {
        var rng = new Rng((ulong)Seed("embed", n, dim, bf16 ? 1 : 0));
        var table = Random(rng, vocab * dim);
        ushort[]? bits = null;
        if (bf16) { bits = Array.ConvertAll(table, ReferenceConvert.F32ToBf16); table = Array.ConvertAll(bits, b => (float)ReferenceConvert.Bf16ToDouble(b)); }
        var ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rng.NextInt(vocab);
        var dy = Random(rng, n * dim);
        var d0 = Random(rng, vocab * dim);
        using var tt = bf16 ? UploadBf16(be, bits!, vocab, dim) : Upload(be, table, vocab, dim);
        using var ti = Upload(be, ids, n);
        using var y = Poisoned(be, n, dim);
        Timed(be, "gather", OpWork.Floats(2.0 * n * dim + n), () => be.EmbeddingGather(tt, ti, y));
        using var tdy = Upload(be, dy, n, dim);
        using var dTable = Upload(be, d0, vocab, dim);
        Timed(be, "scatter-add", OpWork.Floats(3.0 * n * dim + n), () => be.EmbeddingScatterAdd(tdy, ti, dTable));
        string shape = $"{n}×{dim}";
        return Worst(Compare("embedding gather", shape, y, ReferenceEmbedding.Gather(table, ids, n, dim), F32Tol),
            Compare("embedding scatter-add", shape, dTable, ReferenceEmbedding.ScatterAdd(dy, ids, d0, n, dim), F32Tol));
    });

    private static KernelCheck Casts(int n) => new("cast f32⇄bf16/f16", $"[{n}]", be =>
    {
        var rng = new Rng((ulong)Seed("cast", n));
        var x = Random(rng, n, -100, 100);
        using var tx = Upload(be, x, n);
        using var bf = Tensor.Empty(new Shape(n), DType.BF16, be.Device);
        using var hf = Tensor.Empty(new Shape(n), DType.F16, be.Device);
        using var back = Poisoned(be, n);
        Timed(be, "f32→bf16", OpWork.Memory(6.0 * n), () => be.Cast(tx, bf));
        be.Cast(tx, hf);
        var bfGot = bf.ToArray<ushort>();
        var hfGot = hf.ToArray<ushort>();
        be.Cast(bf, back);
        string shape = $"[{n}]";
        var bfRef = Array.ConvertAll(x, ReferenceConvert.F32ToBf16);
        var hfRef = Array.ConvertAll(x, ReferenceConvert.F32ToF16);
        int bfBad = Enumerable.Range(0, n).Count(i => bfGot[i] != bfRef[i]);
        int hfBad = Enumerable.Range(0, n).Count(i => hfGot[i] != hfRef[i]);
        if (bfBad + hfBad > 0)
            return new("cast", shape, 1, 1, 0, $"{bfBad} bf16 and {hfBad} f16 results differ from round-to-nearest-even");
        return Compare("cast bf16→f32", shape, back, Array.ConvertAll(bfRef, ReferenceConvert.Bf16ToDouble), 0);
    });

    private static KernelCheck AdamW(int n) => new("adamw", $"[{n}] 3 steps", be =>
    {
        var rng = new Rng((ulong)Seed("adamw", n));
        var p = Random(rng, n);
        var pd = ToDouble(p); var md = new double[n]; var vd = new double[n];
        using var tp = Upload(be, p, n);
        using var tm = Tensor.Zeros(new Shape(n), DType.F32, be.Device);
        using var tv = Tensor.Zeros(new Shape(n), DType.F32, be.Device);
        var settings = new AdamWSettings(1e-2f, 0.9f, 0.999f, 1e-8f, 0.1f);
        for (int step = 1; step <= 3; step++)
        {
            var g = Random(rng, n);
            using var tg = Upload(be, g, n);
            be.AdamW(tp, tg, tm, tv, settings, step);
            ReferenceAdamW.Step(pd, g, md, vd, settings.LearningRate, settings.Beta1, settings.Beta2, settings.Eps, settings.WeightDecay, step); // the float32 hyper-parameters, exactly
        }
        return Worst(Compare("adamw param", $"[{n}]", tp, pd, F32Tol), Compare("adamw m", $"[{n}]", tm, md, F32Tol), Compare("adamw v", $"[{n}]", tv, vd, F32Tol));
    });

    private static KernelCheck TransposeCopy(int rows, int cols) => new("strided copy", $"[{rows},{cols}]ᵀ", be =>
    {
        var rng = new Rng((ulong)Seed("copy", rows, cols));
        var x = Random(rng, rows * cols);
        using var tx = Upload(be, x, rows, cols);
        using var view = tx.TransposeView(0, 1);
        using var y = Poisoned(be, cols, rows);
        Timed(be, "copy", OpWork.Floats(2.0 * rows * cols), () => be.Copy(view, y));
        var expected = new double[rows * cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) expected[c * rows + r] = x[r * cols + c];
        return Compare("strided copy", $"[{rows},{cols}]ᵀ", y, expected, 0);
    });
}
