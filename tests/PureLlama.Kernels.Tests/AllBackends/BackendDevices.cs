using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Kernels.Tests.AllBackends;

/// <summary>
/// The devices every backend-level test runs on: the SIMD CPU always, ILGPU's CPU accelerator when
/// the ILGPU backend is built in, CUDA when a GPU is present (PURELLAMA_TEST_DEVICES=cpu,cuda narrows it).
/// </summary>
public static class BackendDevices
{
    public static IEnumerable<Device> All()
    {
        var only = Environment.GetEnvironmentVariable("PURELLAMA_TEST_DEVICES");
        var wanted = string.IsNullOrWhiteSpace(only) ? null : only.Split(',').Select(Device.Parse).ToHashSet();
        foreach (var kind in new[] { DeviceKind.Cpu, DeviceKind.IlgpuCpu, DeviceKind.Cuda })
        {
            var device = new Device(kind);
            if (wanted is not null && !wanted.Contains(device)) continue;
            if (Backends.IsAvailable(kind)) yield return device;
        }
    }
}
