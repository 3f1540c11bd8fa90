using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Kernels.Reference;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>Reductions, RMSNorm and softmax / cross-entropy row kernels against float64 references.</summary>
[Collection("Gpu")]
public sealed class GpuReduceNormTests
{
    public static TheoryData<string> Devices => GpuTestDevices.Names;

    [Theory]
    [MemberData(nameof(Devices))]
    public void Sum_WithAndWithoutScratch(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        foreach (long n in new long[] { 1, 255, 20_001 })
        {
            var x = RandomData.Uniform(RandomData.Seed(nameof(Sum_WithAndWithoutScratch), (int)n), n);
            using var dx = acc.Upload(x);
            using var result = acc.Upload(Poison.Floats(1));
            using var scratch = acc.Upload(Poison.Floats(16));
            double expected = ReferenceReduce.Sum(x, n);
            GpuReduce.Sum(s, dx.View, n, result.View);
            ErrorAssert.Close(result.Download(s, 1), [expected], 1e-5, $"{device} Sum n={n}");
            GpuReduce.Sum(s, dx.View, n, result.View, scratch.View);
            ErrorAssert.Close(result.Download(s, 1), [expected], 1e-5, $"{device} Sum+scratch n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SumOverRowsAndCols_SetAndAccumulate(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        foreach (var (rows, cols) in new[] { (1, 1), (3, 300), (9, 5), (2, 1029) })
            foreach (bool accumulate in new[] { false, true })
            {
                int seed = RandomData.Seed(nameof(SumOverRowsAndCols_SetAndAccumulate), rows, cols);
                var x = RandomData.Uniform(seed, (long)rows * cols);
                var yc0 = RandomData.Uniform(seed + 1, cols);
                var yr0 = RandomData.Uniform(seed + 2, rows);
                using var dx = acc.Upload(x);
                using var dyc = acc.Upload(accumulate ? yc0 : Poison.Floats(cols));
                using var dyr = acc.Upload(accumulate ? yr0 : Poison.Floats(rows));
                GpuReduce.SumOverRows(s, dx.View, rows, cols, dyc.View, accumulate);
                GpuReduce.SumOverCols(s, dx.View, rows, cols, dyr.View, accumulate);
                ErrorAssert.Close(dyc.Download(s, cols), ReferenceReduce.SumOverRows(x, rows, cols, accumulate ? yc0 : null), 1e-5, $"{device} SumOverRows {rows}x{cols} acc={accumulate}");
                ErrorAssert.Close(dyr.Download(s, rows), ReferenceReduce.SumOverCols(x, rows, cols, accumulate ? yr0 : null), 1e-5, $"{device} SumOverCols {rows}x{cols} acc={accumulate}");
            }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void RmsNorm_ForwardBackward_F32AndBf16Weights(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        foreach (var (rows, dim) in new[] { (1, 7), (3, 1000), (5, 64) })
            foreach (bool bf16 in new[] { false, true })
            {
                int seed = RandomData.Seed(nameof(RmsNorm_ForwardBackward_F32AndBf16Weights), rows, dim, bf16 ? 1 : 0);
                long n = (long)rows * dim;
                var x = RandomData.Normal(seed, n);
                var wBits = RandomData.UniformBf16(seed + 1, dim, 0.5f, 1.5f);
                var w = bf16 ? RandomData.FromBf16(wBits) : RandomData.Uniform(seed + 1, dim, 0.5f, 1.5f);
                var dyv = RandomData.Normal(seed + 2, n);
                var dw0 = RandomData.Uniform(seed + 3, dim);
                const float eps = 1e-5f;
                using var dx = acc.Upload(x);
                using var dwF = acc.Upload(w);
                using var dwB = acc.Upload(wBits);
                using var dy = acc.Upload(Poison.Floats(n));
                using var drstd = acc.Upload(Poison.Floats(rows));
                if (bf16) GpuRmsNorm.Forward(s, dx.View, dwB.View, dy.View, drstd.View, rows, dim, eps);
                else GpuRmsNorm.Forward(s, dx.View, dwF.View, dy.View, drstd.View, rows, dim, eps);
                var (yRef, rstdRef) = ReferenceRmsNorm.Forward(x, w, rows, dim, eps);
                var rstd = drstd.Download(s, rows);
                ErrorAssert.Close(dy.Download(s, n), yRef, 1e-5, $"{device} RmsNorm y {rows}x{dim} bf16={bf16}");
                ErrorAssert.Close(rstd, rstdRef, 1e-5, $"{device} RmsNorm rstd {rows}x{dim}");

                using var ddy = acc.Upload(dyv);
                using var ddx = acc.Upload(Poison.Floats(n));
                using var ddw = acc.Upload(dw0);
                if (bf16) GpuRmsNorm.Backward(s, ddy.View, dx.View, dwB.View, drstd.View, ddx.View, ddw.View, rows, dim);
                else GpuRmsNorm.Backward(s, ddy.View, dx.View, dwF.View, drstd.View, ddx.View, ddw.View, rows, dim);
                var (dxRef, dwRef) = ReferenceRmsNorm.Backward(dyv, x, w, rstd, dw0, rows, dim);
                ErrorAssert.Close(ddx.Download(s, n), dxRef, 1e-5, $"{device} RmsNorm dx {rows}x{dim} bf16={bf16}");
                ErrorAssert.Close(ddw.Download(s, dim), dwRef, 1e-5, $"{device} RmsNorm dw {rows}x{dim} bf16={bf16}");
            }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Softmax_ForwardBackward(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        foreach (var (rows, cols) in new[] { (1, 1), (4, 300), (3, 1100) })
        {
            int seed = RandomData.Seed(nameof(Softmax_ForwardBackward), rows, cols);
            long n = (long)rows * cols;
            var x = RandomData.Normal(seed, n, std: 4f);
            var dyv = RandomData.Normal(seed + 1, n);
            using var dx = acc.Upload(x);
            using var dy = acc.Upload(Poison.Floats(n));
            GpuSoftmax.Forward(s, dx.View, dy.View, rows, cols);
            var y = dy.Download(s, n);
            ErrorAssert.Close(y, ReferenceSoftmax.Forward(x, rows, cols), 1e-5, $"{device} Softmax {rows}x{cols}");

            using var ddy = acc.Upload(dyv);
            using var ddx = acc.Upload(Poison.Floats(n));
            GpuSoftmax.Backward(s, dy.View, ddy.View, ddx.View, rows, cols);
            ErrorAssert.Close(ddx.Download(s, n), ReferenceSoftmax.Backward(y, dyv, rows, cols), 1e-5, $"{device} Softmax bwd {rows}x{cols}");
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void CrossEntropy_ForwardBackward_WithIgnoredRows(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var s = acc.DefaultStream;
        const int ignore = -100;
        foreach (var (rows, vocab) in new[] { (1, 3), (5, 3001), (2, 128_256) })
        {
            int seed = RandomData.Seed(nameof(CrossEntropy_ForwardBackward_WithIgnoredRows), rows, vocab);
            long n = (long)rows * vocab;
            var logits = RandomData.Normal(seed, n, std: 3f);
            var targets = RandomData.Ints(seed + 1, rows, 0, vocab);
            if (rows > 1) targets[1] = ignore;
            using var dl = acc.Upload(logits);
            using var dt = acc.Upload(targets);
            using var dloss = acc.Upload(Poison.Floats(rows));
            using var dlse = acc.Upload(Poison.Floats(rows));
            GpuCrossEntropy.Forward(s, dl.View, dt.View, dloss.View, dlse.View, rows, vocab, ignore);
            var (lossRef, lseRef) = ReferenceCrossEntropy.Forward(logits, targets, rows, vocab, ignore);
            var lse = dlse.Download(s, rows);
            ErrorAssert.Close(dloss.Download(s, rows), lossRef, 1e-5, $"{device} CE loss {rows}x{vocab}");
            ErrorAssert.Close(lse, lseRef, 1e-5, $"{device} CE lse {rows}x{vocab}");

            using var dd = acc.Upload(Poison.Floats(n));
            GpuCrossEntropy.Backward(s, dl.View, dt.View, dlse.View, dd.View, rows, vocab, ignore, 0.25f);
            ErrorAssert.Close(dd.Download(s, n), ReferenceCrossEntropy.Backward(logits, targets, lse, rows, vocab, ignore, 0.25), 1e-5, $"{device} CE dlogits {rows}x{vocab}");
        }
    }
}
