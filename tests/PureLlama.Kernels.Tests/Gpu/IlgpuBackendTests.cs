using System.Runtime.InteropServices;
using PureLlama.Compute;
using PureLlama.Kernels.Tests.Harness;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// IlgpuBackend behaviour beyond the numbers (those are KernelChecks' on every backend): index errors
/// name their position, and a steady loop reuses pooled buffers. Runs on ILGPU's CPU accelerator, and on CUDA when present.
/// </summary>
[Collection("Gpu")]
public sealed class IlgpuBackendTests
{
    private static readonly Dictionary<string, IlgpuBackend> Backends = [];

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
