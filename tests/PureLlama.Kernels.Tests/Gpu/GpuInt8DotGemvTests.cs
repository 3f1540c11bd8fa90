using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Tests.Harness;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// The dp4a decode GEMVs (GpuInt8DotMatmul: INT8 row-scaled, INT4 groups sequential / act-order / per channel) on every
/// ILGPU device present, m = 1…4, on ragged shapes (in not a multiple of the 32-column block for INT8 and per-channel
/// INT4, out not a multiple of the 32-output group, weights at an odd byte offset), y poisoned with NaN guards past its
/// end, the activation scratch poisoned. Two checks per output, both in float64:
/// (1) given the activations the kernel quantized (read back from the scratch), y = Σ_b d·Σ_c ŵ·a to 1e-5 relative of
/// Σ|terms| — the integer dots are exact and only the F32 block sums round;
/// (2) against the exact Ŵ·x, |y − Ŵx| ≤ Σ_c |ŵ[r, c]|·d[j, b(c)]/2 (+ the same 1e-5 slack): rounding x to the nearest
/// multiple of its block's d moves each x by at most d/2, and nothing else approximates. The activations themselves
/// are checked to satisfy |d·a − x| ≤ d/2, with zero padding and S = Σ a.
/// </summary>
[Collection("Gpu")]
public sealed class GpuInt8DotGemvTests
{
    private const double Slack = 1e-5;

    public static TheoryData<string> Devices => GpuTestDevices.Names;

    [Theory]
    [MemberData(nameof(Devices))]
    public void Int8_gemv_matches_float64_within_the_activation_rounding(string device)
    {
        var acc = GpuTestDevices.Get(device);
        foreach (var (rows, cols) in new[] { (5, 70), (37, 100), (3, 130), (9, 64), (2, 7), (33, 33) })
            foreach (int offset in new[] { 0, 1 })
                for (int m = 1; m <= 4; m++)
                {
                    bool accumulate = (m + rows) % 2 == 0;
                    string what = $"{device} INT8 [{rows},{cols}] m={m} offset={offset} acc={accumulate}";
                    int seed = RandomData.Seed("gpu int8 dp4a", rows, cols, m, offset);
                    var rng = new Random(seed);
                    var q = new sbyte[rows * cols];
                    for (int k = 0; k < q.Length; k++) q[k] = (sbyte)rng.Next(-127, 128);
                    var scb = RandomData.Uniform(seed + 1, rows, 0.1f, 3f);
                    using var values = acc.Upload([.. new sbyte[offset], .. q]);
                    using var scale = acc.Upload(scb);
                    var w = new Int8DeviceWeight(rows, cols, values.View.SubView(offset, q.Length), scale.View);
                    Run(acc, what, ReferenceQuant.DequantizeInt8(q, scb, rows, cols), null, m, rows, cols, accumulate, seed,
                        (x, y, scratch) => GpuInt8DotMatmul.Int8(acc.DefaultStream, w, x, y, m, accumulate, scratch));
                }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Int4_group_gemv_matches_float64_within_the_activation_rounding(string device)
    {
        var acc = GpuTestDevices.Get(device);
        foreach (var (rows, cols, group, actOrder) in new[] { (40, 200, -1, false), (24, 256, 64, false), (16, 192, 32, true), (264, 160, 64, false), (8, 96, 32, true) })
            for (int m = 1; m <= 4; m++)
            {
                bool accumulate = m % 2 == 0;
                string what = $"{device} INT4 [{rows},{cols}] g{group}{(actOrder ? " act-order" : "")} m={m} acc={accumulate}";
                int seed = RandomData.Seed("gpu int4 dp4a", rows, cols, group, actOrder ? 1 : 0, m);
                var (qweight, qzeros, scales, gIdx, groups) = Diagnostics.KernelChecks.RandomInt4Group(new Tensors.Rng((ulong)seed), rows, cols, group, actOrder);
                var layout = Int4DotLayout.Plan(gIdx, groups) ?? throw new InvalidOperationException($"{what}: no layout");
                (layout.Order is not null).Should().Be(actOrder, what);
                using var dq = acc.Upload(layout.Order is null ? qweight : layout.PermuteQWeight(qweight, rows));
                using var dz = acc.Upload(qzeros);
                using var ds = acc.Upload(scales);
                using var dg = acc.Upload(layout.BlockGroups);
                using var dp = acc.Upload(layout.Order ?? [0]);
                var w = new Int4DotDeviceWeight(rows, cols, groups, dq.View, dz.View, ds.View, dg.View, layout.Order is null ? default : dp.View);
                Run(acc, what, ReferenceInt4Group.Dequantize(rows, cols, qweight, qzeros, scales, gIdx), layout.Order, m, rows, cols, accumulate, seed,
                    (x, y, scratch) => GpuInt8DotMatmul.Int4(acc.DefaultStream, w, x, y, m, accumulate, scratch));
            }
    }

    [Fact]
    public void Rejects_more_than_four_rows_and_short_scratch()
    {
        var acc = GpuTestDevices.Get("ilgpu-cpu");
        using var values = acc.Upload(new sbyte[5 * 70]);
        using var scale = acc.Upload(new float[5]);
        var w = new Int8DeviceWeight(5, 70, values.View, scale.View);
        using var x = acc.Allocate1D<float>(5 * 70);
        using var y = acc.Allocate1D<float>(5 * 5);
        using var scratch = acc.Allocate1D<byte>(GpuInt8DotMatmul.ScratchBytes(5, 70));
        FluentActions.Invoking(() => GpuInt8DotMatmul.Int8(acc.DefaultStream, w, x.View, y.View, 5, false, scratch.View))
            .Should().Throw<ArgumentException>().WithMessage("*at most 4 rows*m = 5*");
        FluentActions.Invoking(() => GpuInt8DotMatmul.Int8(acc.DefaultStream, w, x.View.SubView(0, 140), y.View.SubView(0, 10), 2, false, scratch.View.SubView(0, 100)))
            .Should().Throw<ArgumentException>().WithMessage("*need 240 bytes of scratch, got 100*");
    }

    /// <summary>
    /// Runs one product (x random, y poisoned or random when accumulating, NaN guards past y, scratch poisoned) and checks
    /// it as the class comment says. <paramref name="order"/>: layout column c is weight column order[c] (null: identity).
    /// </summary>
    private static void Run(Accelerator acc, string what, double[] wHat, int[]? order, int m, int rows, int cols, bool accumulate, int seed,
        Action<ArrayView<float>, ArrayView<float>, ArrayView<byte>> product)
    {
        var x = RandomData.Uniform(seed + 2, m * cols, -2f, 2f);
        int yLen = m * rows;
        var y0 = Poison.Floats(yLen + 5);
        if (accumulate) Array.Copy(RandomData.Uniform(seed + 3, yLen), y0, yLen);
        long scratchBytes = GpuInt8DotMatmul.ScratchBytes(m, cols);
        using var dx = acc.Upload(x);
        using var dy = acc.Upload(y0);
        using var scratch = acc.Upload(Poison.Bytes(scratchBytes));
        product(dx.View.SubView(0, x.Length), dy.View.SubView(0, yLen), scratch.View.SubView(0, scratchBytes));
        var y = dy.Download(acc.DefaultStream, yLen + 5);
        var a = GpuQ8Activations.Carve(scratch.View, m, cols);
        var codes = new sbyte[a.Values.Length];
        var d = new float[a.Scales.Length];
        var sums = new int[a.Sums.Length];
        a.Values.CopyToCPU(codes);
        a.Scales.CopyToCPU(d);
        a.Sums.CopyToCPU(sums);
        for (int k = yLen; k < y.Length; k++) float.IsNaN(y[k]).Should().BeTrue($"{what}: y[{k}] past the end was written");
        for (int j = 0; j < m; j++)
        {
            for (int b = 0; b < a.Blocks; b++)
            {
                int s = 0;
                for (int c = 32 * b; c < 32 * b + 32; c++)
                {
                    int code = codes[j * a.Padded + c];
                    s += code;
                    if (c >= cols) { code.Should().Be(0, $"{what}: padding a[{j},{c}]"); continue; }
                    double xv = x[j * cols + (order?[c] ?? c)];
                    Math.Abs(d[j * a.Blocks + b] * (double)code - xv).Should().BeLessThanOrEqualTo(d[j * a.Blocks + b] * 0.5 * (1 + 1e-6), $"{what}: a[{j},{c}] rounds x");
                }
                sums[j * a.Blocks + b].Should().Be(s, $"{what}: S[{j},{b}]");
            }
            for (int r = 0; r < rows; r++)
            {
                double init = accumulate ? y0[j * rows + r] : 0, exact = init, onCodes = init, terms = Math.Abs(init), bound = 0;
                for (int c = 0; c < cols; c++)
                {
                    int col = order?[c] ?? c;
                    double wv = wHat[(long)r * cols + col], dv = d[j * a.Blocks + c / 32], av = dv * codes[j * a.Padded + c];
                    exact += wv * x[j * cols + col];
                    onCodes += wv * av;
                    terms += Math.Abs(wv * av);
                    bound += Math.Abs(wv) * dv * 0.5;
                }
                double got = y[j * rows + r];
                Math.Abs(got - onCodes).Should().BeLessThanOrEqualTo(Slack * terms, $"{what}: y[{j},{r}] against the product on its quantized activations");
                Math.Abs(got - exact).Should().BeLessThanOrEqualTo(bound * 1.0001 + Slack * terms, $"{what}: y[{j},{r}] against the exact product");
            }
        }
    }
}
