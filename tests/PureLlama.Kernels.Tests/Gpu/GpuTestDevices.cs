using ILGPU;
using ILGPU.Runtime;
using PureLlama.Kernels.Gpu;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// The accelerators GPU kernel tests run on: the ILGPU devices of Backends.Available() (ILGPU's CPU
/// accelerator, CUDA when the driver reports a device). Accelerators are created once per test process and shared (their
/// kernel caches too); GPU tests run in one serial collection.
/// </summary>
public static class GpuTestDevices
{
    private static readonly Lazy<Accelerator> Cpu = new(() => GpuContext.CreateAccelerator(GpuDeviceKind.IlgpuCpu));
    private static readonly Lazy<Accelerator?> Cuda = new(() => GpuContext.HasCuda ? GpuContext.CreateAccelerator(GpuDeviceKind.Cuda) : null);

    /// <summary>
    /// Device names for [MemberData]: the ILGPU devices of <see cref="Compute.Backends.Available"/> (the one list of
    /// devices the suites run on; PURELLAMA_TEST_DEVICES narrows it).
    /// </summary>
    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var device in Compute.Backends.Available())
                if (device.Kind != Tensors.DeviceKind.Cpu) data.Add(device.ToString());
            return data;
        }
    }

    /// <summary>The shared accelerator for a device name, made current on the calling thread.</summary>
    public static Accelerator Get(string name)
    {
        PureLlama.Tests.Shared.SimulatorChecks.RequireFor(name);
        var acc = name switch
        {
            "ilgpu-cpu" => Cpu.Value,
            "cuda" => Cuda.Value ?? throw new InvalidOperationException("no CUDA device"),
            _ => throw new ArgumentException(name),
        };
        if (acc.AcceleratorType == AcceleratorType.Cuda) acc.Bind(); // CUDA contexts are per thread
        return acc;
    }

    /// <summary>Copies a host array to a new device buffer.</summary>
    public static MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(this Accelerator acc, T[] data) where T : unmanaged
    {
        var buffer = acc.Allocate1D<T>(Math.Max(1, data.Length));
        if (data.Length > 0) buffer.View.SubView(0, data.Length).CopyFromCPU(data);
        return buffer;
    }

    /// <summary>Waits for the stream and copies the first n elements back.</summary>
    public static T[] Download<T>(this MemoryBuffer1D<T, Stride1D.Dense> buffer, AcceleratorStream stream, long n) where T : unmanaged
    {
        stream.Synchronize();
        var host = new T[n];
        if (n > 0) buffer.View.SubView(0, n).CopyToCPU(host);
        return host;
    }
}

/// <summary>Serial collection for GPU tests: they share accelerators, and the CPU accelerator is thread-hungry.</summary>
[CollectionDefinition("Gpu", DisableParallelization = true)]
public sealed class GpuCollection;
