using PureLlama.Compute;
using PureLlama.Kernels;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Unary;
using PureLlama.Tensors;
using static PureLlama.Diagnostics.CheckIo;

namespace PureLlama.Diagnostics;

/// <summary>
/// Every kernel of the op set, run through a backend on fresh random, ragged inputs with poisoned
/// outputs and compared with its float64 reference (ggml's test-backend-ops discipline: one harness,
/// every backend). Used by the test suite on every backend present and by <c>purellama selftest</c>.
/// Shapes shrink on ILGPU's CPU accelerator, a thread-per-GPU-thread simulator, but still cross
/// every tile and group edge.
/// </summary>
internal static partial class KernelChecks
{
    /// <summary>F32 tolerance (relative L2 error) and the looser one for long reductions.</summary>
    public const double F32Tol = 1e-5, LongTol = 1e-4;

    /// <summary>All checks, sized for <paramref name="device"/>.</summary>
    public static IReadOnlyList<KernelCheck> For(Device device)
    {
        bool small = device.Kind == DeviceKind.IlgpuCpu;
        var list = new List<KernelCheck>();
        var matmulShapes = small
            ? new[] { (1, 7, 33), (33, 17, 65), (70, 45, 38) }
            : new[] { (1, 7, 33), (33, 127, 65), (127, 1000, 7), (200, 300, 1000) };
        foreach (var (m, n, k) in matmulShapes)
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
                list.Add(MatMul(m, n, k, ta, tb, bf16: false));
        foreach (var (m, n, k) in matmulShapes) list.Add(MatMul(m, n, k, false, true, bf16: true));
        list.Add(BatchedMatMul(3, small ? 9 : 33, small ? 11 : 47, small ? 13 : 65));
        foreach (var (r, c) in small ? new[] { (3, 7), (9, 130) } : new[] { (1, 7), (33, 127), (127, 1000) })
        {
            foreach (var op in Enum.GetValues<BinaryOp>()) list.Add(Binary(op, r, c));
            list.Add(ScaleAxpy(r * c));
            list.Add(SumToShape(r, c));
            list.Add(RmsNorm(r, c, bf16Weight: false));
            list.Add(RmsNorm(r, c, bf16Weight: true));
            list.Add(Softmax(r, c));
            list.Add(CrossEntropy(r, c + 1));
            foreach (var op in UnaryOp.All) { list.Add(Unary(op, r * c)); list.Add(Gated(op, r * c)); }
            list.Add(Embedding(r, c, vocab: 50, bf16: false));
            list.Add(Embedding(r, c, vocab: 50, bf16: true));
            list.Add(Casts(r * c));
            list.Add(AdamW(r * c));
            list.Add(AdamW8bit(r * c));
            list.Add(TransposeCopy(r, c));
        }
        foreach (var (tokens, heads, headDim) in small ? new[] { (3, 2, 8), (5, 3, 16) } : new[] { (1, 1, 8), (17, 4, 64), (33, 8, 128) })
            list.Add(Rope(tokens, heads, headDim));
        foreach (var c in AttentionCases(small)) list.Add(Attention(c));
        foreach (var c in PagedAttentionCases(small)) list.Add(PagedAttention(c));
        foreach (var (m, inF, outF, r) in LoraCases(small)) list.Add(Lora(m, inF, outF, r));
        list.AddRange(QuantizedChecks(small));
        list.AddRange(Int4GroupChecks(small));
        list.AddRange(GgmlBlockChecks(small));
        list.AddRange(Int8DotChecks(small));
        return list;
    }

    private static KernelCheck MatMul(int m, int n, int k, bool transA, bool transB, bool bf16)
    {
        string name = bf16 ? "matmul f32×bf16" : "matmul f32";
        string shape = $"{m}x{n}x{k}{(transA ? " Aᵀ" : "")}{(transB ? " Bᵀ" : "")}";
        return new(name, shape, be =>
        {
            var rng = new Rng((ulong)Seed(name, m, n, k, transA ? 1 : 0, transB ? 1 : 0));
            var a = Random(rng, m * k);
            var b = Random(rng, k * n);
            ushort[]? bBits = null;
            if (bf16) { bBits = Array.ConvertAll(b, ReferenceConvert.F32ToBf16); b = Array.ConvertAll(bBits, x => (float)ReferenceConvert.Bf16ToDouble(x)); }
            var expected = ReferenceMatmul.Matmul(m, n, k, ToDouble(a), transA ? m : k, transA, ToDouble(b), transB ? k : n, transB);
            using var ta = Upload(be, a, transA ? [k, m] : [m, k]);
            using var tb = bf16 ? UploadBf16(be, bBits!, transB ? [n, k] : [k, n]) : Upload(be, b, transB ? [n, k] : [k, n]);
            using var c = Poisoned(be, m, n);
            Timed(be, "matmul", OpWork.Compute(2.0 * m * n * k), () => be.MatMul(ta, tb, c, transA, transB, accumulate: false));
            return Compare(name, shape, c, expected, k >= 1000 ? LongTol : F32Tol);
        });
    }

    private static KernelCheck BatchedMatMul(int batch, int m, int n, int k) => new("matmul batched", $"{batch}×{m}x{n}x{k} accumulate", be =>
    {
        var rng = new Rng((ulong)Seed("bmm", batch, m, n, k));
        var a = Random(rng, batch * m * k);
        var b = Random(rng, batch * k * n);
        var c0 = Random(rng, batch * m * n);
        var expected = new double[batch * m * n];
        for (int i = 0; i < batch; i++)
        {
            var r = ReferenceMatmul.Matmul(m, n, k, ToDouble(a[(i * m * k)..((i + 1) * m * k)]), k, false, ToDouble(b[(i * k * n)..((i + 1) * k * n)]), n, false);
            for (int j = 0; j < r.Length; j++) expected[i * m * n + j] = r[j] + c0[i * m * n + j];
        }
        using var ta = Upload(be, a, batch, m, k);
        using var tb = Upload(be, b, batch, k, n);
        using var c = Upload(be, c0, batch, m, n);
        Timed(be, "matmul", OpWork.Compute(2.0 * batch * m * n * k), () => be.MatMul(ta, tb, c, false, false, accumulate: true));
        return Compare("matmul batched", $"{batch}×{m}x{n}x{k}", c, expected, F32Tol);
    });

    private static KernelCheck Binary(BinaryOp op, int rows, int cols) => new($"binary {op.ToString().ToLowerInvariant()}", $"[{rows},{cols}]∘[{cols}]", be =>
    {
        var rng = new Rng((ulong)Seed("binary", (int)op, rows, cols));
        var a = Random(rng, rows * cols);
        var b = NonZero(rng, cols);
        var expected = new double[rows * cols];
        for (int r = 0; r < rows; r++)
            ReferenceElementwise.Binary(op, a[(r * cols)..((r + 1) * cols)], 1, b, 1, cols).CopyTo(expected, r * cols);
        using var ta = Upload(be, a, rows, cols);
        using var tb = Upload(be, b, cols);
        using var y = Poisoned(be, rows, cols);
        Timed(be, "binary", OpWork.Floats(2.0 * rows * cols + cols), () => be.Binary(op, ta, tb, y));
        return Compare($"binary {op}", $"[{rows},{cols}]", y, expected, F32Tol);
    });

    private static KernelCheck ScaleAxpy(int n) => new("scale/axpy/fill", $"[{n}]", be =>
    {
        var rng = new Rng((ulong)Seed("scale-axpy", n));
        var x = Random(rng, n);
        var y0 = Random(rng, n);
        const float alpha = -1.75f, v = 0.375f;
        using var tx = Upload(be, x, n);
        using var scaled = Poisoned(be, n);
        using var axpy = Upload(be, y0, n);
        using var filled = Poisoned(be, n);
        Timed(be, "scale", OpWork.Floats(2.0 * n), () => be.Scale(tx, alpha, scaled));
        Timed(be, "axpy", OpWork.Floats(3.0 * n), () => be.Axpy(alpha, tx, axpy));
        Timed(be, "fill", OpWork.Floats(n), () => be.Fill(filled, v));
        var scaleRef = new double[n];
        var axpyRef = new double[n];
        for (int i = 0; i < n; i++) { scaleRef[i] = (double)alpha * x[i]; axpyRef[i] = y0[i] + (double)alpha * x[i]; }
        string shape = $"[{n}]";
        return Worst(Compare("scale", shape, scaled, scaleRef, F32Tol), Compare("axpy", shape, axpy, axpyRef, F32Tol),
            Compare("fill", shape, filled, Enumerable.Repeat((double)v, n).ToArray(), 0));
    });

    private static KernelCheck SumToShape(int rows, int cols) => new("sum-to-shape", $"[{rows},{cols}]→[{cols}],[{rows},1],[]", be =>
    {
        var rng = new Rng((ulong)Seed("sum", rows, cols));
        var x = Random(rng, rows * cols);
        using var tx = Upload(be, x, rows, cols);
        using var overRows = Poisoned(be, cols);
        using var overCols = Poisoned(be, rows, 1);
        using var all = Poisoned(be);
        Timed(be, "over rows", OpWork.Floats((double)rows * cols + cols), () => be.SumToShape(tx, overRows));
        Timed(be, "over cols", OpWork.Floats((double)rows * cols + rows), () => be.SumToShape(tx, overCols));
        Timed(be, "all", OpWork.Floats((double)rows * cols + 1), () => be.SumToShape(tx, all));
        double tol = rows * cols >= 1000 ? LongTol : F32Tol;
        return Worst(
            Compare("sum-to-shape", "rows", overRows, ReferenceReduce.SumOverRows(x, rows, cols, null), tol),
            Compare("sum-to-shape", "cols", overCols, ReferenceReduce.SumOverCols(x, rows, cols, null), tol),
            Compare("sum-to-shape", "all", all, [ReferenceReduce.Sum(x, x.Length)], tol));
    });

    internal static int Seed(string name, params int[] parts) => StableSeed.Of(name, parts);

    internal static float[] Random(Rng rng, int n, float lo = -1f, float hi = 1f)
    {
        var x = new float[n];
        rng.FillUniform(x, lo, hi);
        return x;
    }

    internal static float[] NonZero(Rng rng, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)((0.5 + rng.NextDouble()) * (rng.NextDouble() < 0.5 ? -1 : 1));
        return x;
    }
}
