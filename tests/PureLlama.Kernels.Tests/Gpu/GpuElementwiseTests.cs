using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Kernels.Reference;

namespace PureLlama.Kernels.Tests.Gpu;

[Collection("Gpu")]
public sealed class GpuElementwiseTests
{
    public static TheoryData<string> Devices => GpuTestDevices.Names;

    [Theory]
    [MemberData(nameof(Devices))]
    public void Binary_AllOpsAndSteps_MatchReference(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var stream = acc.DefaultStream;
        foreach (long n in new long[] { 1, 257, 3001 })
            foreach (BinaryOp op in Enum.GetValues<BinaryOp>())
                foreach (var (aStep, bStep) in new[] { (1, 1), (0, 1), (1, 0) })
                {
                    int seed = RandomData.Seed(nameof(Binary_AllOpsAndSteps_MatchReference), (int)n, (int)op, aStep, bStep);
                    var a = RandomData.NonZero(seed, aStep == 0 ? 1 : n);
                    var b = RandomData.NonZero(seed + 1, bStep == 0 ? 1 : n);
                    using var da = acc.Upload(a);
                    using var db = acc.Upload(b);
                    using var dy = acc.Upload(Poison.Floats(n));
                    GpuElementwise.Binary(stream, op, da.View, aStep, db.View, bStep, dy.View, n);
                    ErrorAssert.Close(dy.Download(stream, n), ReferenceElementwise.Binary(op, a, aStep, b, bStep, n), 1e-6, $"{device} {op} n={n} steps={aStep},{bStep}");
                }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ScaleAxpyFill_MatchReference(string device)
    {
        var acc = GpuTestDevices.Get(device);
        var stream = acc.DefaultStream;
        foreach (long n in new long[] { 1, 300, 5000 })
        {
            int seed = RandomData.Seed(nameof(ScaleAxpyFill_MatchReference), (int)n);
            var x = RandomData.Uniform(seed, n);
            var y0 = RandomData.Uniform(seed + 1, n);
            using var dx = acc.Upload(x);
            using var dy = acc.Upload(Poison.Floats(n));
            GpuElementwise.Scale(stream, dx.View, -1.75f, dy.View, n);
            ErrorAssert.Close(dy.Download(stream, n), ReferenceElementwise.Scale(x, -1.75), 1e-6, $"{device} Scale n={n}");

            using var dz = acc.Upload(y0);
            GpuElementwise.Axpy(stream, 0.5f, dx.View, dz.View, n);
            ErrorAssert.Close(dz.Download(stream, n), ReferenceElementwise.Axpy(0.5, x, y0), 1e-6, $"{device} Axpy n={n}");

            GpuElementwise.Fill(stream, dy.View, 3.25f, n);
            ErrorAssert.Close(dy.Download(stream, n), ReferenceElementwise.Fill(3.25, n), 0, $"{device} Fill n={n}");
        }
    }
}
