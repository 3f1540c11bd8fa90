using System.Collections.Concurrent;
using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>
/// One backend per device kind, created on first use. Device selection: <c>--device cpu|cuda|ilgpu-cpu</c>
/// or the PURELLAMA_DEVICE environment variable; see <see cref="DefaultDevice"/>.
/// </summary>
public static class Backends
{
    private static readonly ConcurrentDictionary<DeviceKind, Lazy<IBackend>> s_backends = new();

    /// <summary>The backend of <paramref name="device"/>, created on first use.</summary>
    public static IBackend Get(Device device) =>
        s_backends.GetOrAdd(device.Kind, kind => new Lazy<IBackend>(() => Create(kind))).Value;

    /// <summary>The SIMD CPU backend.</summary>
    public static IBackend Cpu => Get(Device.Cpu);

    /// <summary>
    /// PURELLAMA_DEVICE when set, else CUDA when a CUDA GPU is present, else the SIMD CPU.
    /// </summary>
    public static Device DefaultDevice()
    {
        var env = Environment.GetEnvironmentVariable("PURELLAMA_DEVICE");
        if (!string.IsNullOrWhiteSpace(env)) return Device.Parse(env);
        return IsAvailable(DeviceKind.Cuda) ? Device.Cuda : Device.Cpu;
    }

    /// <summary>
    /// Every device usable here (CPU, then ILGPU's CPU accelerator, then CUDA), optionally narrowed by
    /// PURELLAMA_TEST_DEVICES=cpu,cuda,… — the set the test suites run each backend-level test on.
    /// </summary>
    public static IEnumerable<Device> Available()
    {
        var only = Environment.GetEnvironmentVariable("PURELLAMA_TEST_DEVICES");
        var wanted = string.IsNullOrWhiteSpace(only) ? null : only.Split(',').Select(Device.Parse).ToHashSet();
        foreach (var kind in new[] { DeviceKind.Cpu, DeviceKind.IlgpuCpu, DeviceKind.Cuda })
        {
            var device = new Device(kind);
            if (wanted is not null && !wanted.Contains(device)) continue;
            if (IsAvailable(kind)) yield return device;
        }
    }

    /// <summary>Whether a device kind can be used on this machine.</summary>
    public static bool IsAvailable(DeviceKind kind) => kind switch
    {
        DeviceKind.Cpu => true,
        _ => BackendFactory.IsAvailable(kind),
    };

    private static IBackend Create(DeviceKind kind) => kind switch
    {
        DeviceKind.Cpu => new CpuBackend(),
        _ => BackendFactory.Create(kind),
    };
}
