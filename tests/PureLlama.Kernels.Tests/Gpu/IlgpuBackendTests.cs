using System.Runtime.InteropServices;
using PureLlama.Compute;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// IlgpuBackend against CpuBackend, op by op, on the same inputs (test-backend-ops style): shapes,
/// broadcasting, views, dtypes and error paths through the IBackend surface. Runs on ILGPU's CPU
/// accelerator, and on CUDA when present.
/// </summary>
[Collection("Gpu")]
public sealed class IlgpuBackendTests
{
    private static readonly Dictionary<string, IlgpuBackend> Backends = [];
    private static readonly CpuBackend Cpu = new();

    public static TheoryData<string> Devices => GpuTestDevices.Names;

    private static IlgpuBackend Gpu(string device)
    {
        PureLlama.Tests.Shared.SimulatorChecks.RequireFor(device);
        lock (Backends)
        {
            if (!Backends.TryGetValue(device, out var be))
                Backends[device] = be = new IlgpuBackend(device == "cuda" ? DeviceKind.Cuda : DeviceKind.IlgpuCpu);
            return be;
        }
    }

    private static Tensor Make<T>(IBackend be, T[] data, int[] dims, DType dtype) where T : unmanaged
    {
        var shape = new Shape(dims);
        var t = new Tensor(be.Allocate(shape.Numel * dtype.SizeOf()), shape, shape.ContiguousStrides(), 0, dtype);
        be.CopyFromHost(MemoryMarshal.AsBytes(data.AsSpan()), t);
        return t;
    }

    private static Tensor Poisoned(IBackend be, int[] dims) => Make(be, Poison.Floats(new Shape(dims).Numel), dims, DType.F32);

    private static T[] Read<T>(IBackend be, Tensor t) where T : unmanaged
    {
        var host = new T[t.Numel];
        be.CopyToHost(t, MemoryMarshal.AsBytes(host.AsSpan()));
        return host;
    }

    /// <summary>Runs op on both backends over the same inputs and compares the named outputs.</summary>
    private static void Compare(string device, string what, Func<IBackend, Tensor[]> setup, Action<IBackend, Tensor[]> op, int[] outputs, double tol = 1e-5)
    {
        var gpu = Gpu(device);
        var tc = setup(Cpu);
        var tg = setup(gpu);
        try
        {
            op(Cpu, tc);
            op(gpu, tg);
            foreach (int o in outputs)
            {
                var expected = Array.ConvertAll(Read<float>(Cpu, tc[o]), v => (double)v);
                ErrorAssert.Close(Read<float>(gpu, tg[o]), expected, tol, $"{device} {what} output {o}");
            }
        }
        finally
        {
            foreach (var t in tc) t.Dispose();
            foreach (var t in tg) t.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Binary_Broadcasts_LikeCpu(string device)
    {
        var cases = new (int[] A, int[] B, int[] Y)[]
        {
            ([2, 3, 4], [4], [2, 3, 4]), ([2, 1, 4], [3, 1], [2, 3, 4]), ([5], [], [5]),
        };
        int seed = RandomData.Seed(nameof(Binary_Broadcasts_LikeCpu));
        foreach (var (sa, sb, sy) in cases)
            foreach (var op in Enum.GetValues<BinaryOp>())
                Compare(device, $"Binary {op} {new Shape(sa)}∘{new Shape(sb)}",
                    be => [Make(be, RandomData.NonZero(seed, new Shape(sa).Numel), sa, DType.F32), Make(be, RandomData.NonZero(seed + 1, new Shape(sb).Numel), sb, DType.F32), Poisoned(be, sy)],
                    (be, t) => be.Binary(op, t[0], t[1], t[2]), [2]);
        // 7 alternating broadcast dimensions: more than the rank-6 kernel, one launch per row.
        int[] a7 = [2, 1, 2, 1, 2, 1, 3], b7 = [1, 2, 1, 2, 1, 2, 1], y7 = [2, 2, 2, 2, 2, 2, 3];
        Compare(device, "Binary rank 7",
            be => [Make(be, RandomData.NonZero(seed, 24), a7, DType.F32), Make(be, RandomData.NonZero(seed + 1, 8), b7, DType.F32), Poisoned(be, y7)],
            (be, t) => be.Binary(BinaryOp.Sub, t[0], t[1], t[2]), [2]);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void ScaleAxpySumToShape_LikeCpu(string device)
    {
        int seed = RandomData.Seed(nameof(ScaleAxpySumToShape_LikeCpu));
        Compare(device, "Scale/Axpy",
            be => [Make(be, RandomData.Uniform(seed, 300), [3, 100], DType.F32), Poisoned(be, [3, 100]), Make(be, RandomData.Uniform(seed + 1, 300), [3, 100], DType.F32)],
            (be, t) => { be.Scale(t[0], 0.3f, t[1]); be.Axpy(-2f, t[0], t[2]); }, [1, 2]);
        var cases = new (int[] Src, int[] Dst)[] { ([3, 40], [40]), ([3, 40], [3, 1]), ([2, 3, 40], []), ([4, 3, 5], [3, 1]), ([6, 7], [6, 7]) };
        foreach (var (src, dst) in cases)
            Compare(device, $"SumToShape {new Shape(src)}→{new Shape(dst)}",
                be => [Make(be, RandomData.Uniform(seed + 2, new Shape(src).Numel), src, DType.F32), Poisoned(be, dst)],
                (be, t) => be.SumToShape(t[0], t[1]), [1]);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void CopyViewsAndCast_LikeCpu(string device)
    {
        int seed = RandomData.Seed(nameof(CopyViewsAndCast_LikeCpu));
        var data = RandomData.Normal(seed, 2 * 3 * 5, std: 10f);
        // transposed source → contiguous destination
        Compare(device, "Copy transpose",
            be => [Make(be, data, [2, 3, 5], DType.F32), Poisoned(be, [5, 3, 2])],
            (be, t) => { using var v = t[0].PermuteView([2, 1, 0]); be.Copy(v, t[1]); }, [1]);
        // contiguous source → strided destination (a column slice of a wider matrix)
        Compare(device, "Copy into slice",
            be => [Make(be, data, [6, 5], DType.F32), Make(be, new float[6 * 9], [6, 9], DType.F32)],
            (be, t) => { using var dst = t[1].SliceView(1, 2, 5); be.Copy(t[0], dst); }, [1]);
        // casts through every float dtype and back
        foreach (var dtype in new[] { DType.BF16, DType.F16 })
            Compare(device, $"Cast F32→{dtype}→F32",
                be => [Make(be, data, [30], DType.F32), Make(be, new ushort[30], [30], dtype), Poisoned(be, [30]), Make(be, new ushort[30], [30], dtype == DType.BF16 ? DType.F16 : DType.BF16), Poisoned(be, [30])],
                (be, t) => { be.Cast(t[0], t[1]); be.Cast(t[1], t[2]); be.Cast(t[1], t[3]); be.Cast(t[3], t[4]); }, [2, 4], tol: 0);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void FusedLayers_LikeCpu(string device)
    {
        int seed = RandomData.Seed(nameof(FusedLayers_LikeCpu));
        const int rows = 3, dim = 300;
        var x = RandomData.Normal(seed, rows * dim);
        var w = RandomData.Uniform(seed + 1, dim, 0.5f, 1.5f);
        var dy = RandomData.Normal(seed + 2, rows * dim);
        foreach (bool bf16 in new[] { false, true })
            Compare(device, $"RmsNorm bf16={bf16}",
                be => [Make(be, x, [rows, dim], DType.F32), bf16 ? Make(be, RandomData.ToBf16(w), [dim], DType.BF16) : Make(be, w, [dim], DType.F32),
                       Poisoned(be, [rows, dim]), Poisoned(be, [rows]), Make(be, dy, [rows, dim], DType.F32), Poisoned(be, [rows, dim]), Make(be, new float[dim], [dim], DType.F32)],
                (be, t) => { be.RmsNorm(t[0], t[1], 1e-5f, t[2], t[3]); be.RmsNormBackward(t[4], t[0], t[1], t[3], t[5], t[6]); }, [2, 3, 5, 6]);

        Compare(device, "Softmax",
            be => [Make(be, x, [rows, dim], DType.F32), Poisoned(be, [rows, dim]), Make(be, dy, [rows, dim], DType.F32), Poisoned(be, [rows, dim])],
            (be, t) => { be.Softmax(t[0], t[1]); be.SoftmaxBackward(t[1], t[2], t[3]); }, [1, 3]);

        int[] targets = [5, -100, 299];
        Compare(device, "CrossEntropy",
            be => [Make(be, x, [rows, dim], DType.F32), Make(be, targets, [rows], DType.I32), Poisoned(be, [rows]), Poisoned(be, [rows]), Poisoned(be, [rows, dim])],
            (be, t) => { be.CrossEntropy(t[0], t[1], -100, t[2], t[3]); be.CrossEntropyBackward(t[0], t[1], t[3], -100, 0.5f, t[4]); }, [2, 3, 4]);

        int[] ids = [2, 0, 2, 1];
        Compare(device, "Embedding",
            be => [Make(be, x, [3, dim], DType.F32), Make(be, ids, [4], DType.I32), Poisoned(be, [4, dim]), Make(be, RandomData.ToBf16(x), [3, dim], DType.BF16), Poisoned(be, [4, dim]),
                   Make(be, RandomData.Normal(seed + 3, 4 * dim), [4, dim], DType.F32), Make(be, new float[3 * dim], [3, dim], DType.F32)],
            (be, t) => { be.EmbeddingGather(t[0], t[1], t[2]); be.EmbeddingGather(t[3], t[1], t[4]); be.EmbeddingScatterAdd(t[5], t[1], t[6]); }, [2, 4, 6]);

        const int tokens = 4, heads = 2, headDim = 8, maxPos = 10;
        int[] pos = [0, 3, 9, 3];
        Compare(device, "Rope",
            be => [Make(be, RandomData.Normal(seed + 4, tokens * heads * headDim), [tokens, heads, headDim], DType.F32), Make(be, pos, [tokens], DType.I32),
                   Make(be, RandomData.Uniform(seed + 5, maxPos * headDim / 2), [maxPos, headDim / 2], DType.F32), Make(be, RandomData.Uniform(seed + 6, maxPos * headDim / 2), [maxPos, headDim / 2], DType.F32),
                   Poisoned(be, [tokens, heads, headDim])],
            (be, t) => { be.Rope(t[0], t[1], t[2], t[3], t[4], inverse: false); be.Rope(t[4], t[1], t[2], t[3], t[4], inverse: true); }, [4]);

        Compare(device, "AdamW",
            be => [Make(be, x, [rows, dim], DType.F32), Make(be, dy, [rows, dim], DType.F32), Make(be, new float[rows * dim], [rows, dim], DType.F32), Make(be, new float[rows * dim], [rows, dim], DType.F32)],
            (be, t) => { for (int s = 1; s <= 2; s++) be.AdamW(t[0], t[1], t[2], t[3], new AdamWSettings(1e-2f), s); }, [0, 2, 3]);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void BadIndices_AreRejectedWithTheirPosition(string device)
    {
        var gpu = Gpu(device);
        using var table = Make(gpu, new float[12], [3, 4], DType.F32);
        using var ids = Make(gpu, new[] { 0, 7 }, [2], DType.I32);
        using var y = Poisoned(gpu, [2, 4]);
        var act = () => gpu.EmbeddingGather(table, ids, y);
        act.Should().Throw<ArgumentException>().WithMessage("ids[1] = 7 is outside [0, 3)*");
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SteadyLoop_ReusesPooledBuffers(string device)
    {
        var gpu = Gpu(device);
        void Step()
        {
            using var a = new Tensor(gpu.Allocate(4096), new Shape(1024), [1], 0, DType.F32);
            using var b = new Tensor(gpu.Allocate(1000), new Shape(250), [1], 0, DType.F32);
            gpu.Fill(a, 1f);
            gpu.Scale(b, 2f, b);
        }
        Step();
        long before = gpu.DeviceAllocations;
        for (int i = 0; i < 20; i++) Step();
        gpu.DeviceAllocations.Should().Be(before);
        // Reused memory comes back zeroed.
        using var z = new Tensor(gpu.Allocate(4096), new Shape(1024), [1], 0, DType.F32);
        Read<float>(gpu, z).Should().OnlyContain(v => v == 0f);
    }
}
