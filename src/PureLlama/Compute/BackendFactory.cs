using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>Creates the non-CPU backends (ILGPU: CUDA and the CPU accelerator).</summary>
internal static class BackendFactory
{
    public static bool IsAvailable(DeviceKind kind) => false;

    public static IBackend Create(DeviceKind kind) =>
        throw new DeviceUnavailableException($"Device '{new Device(kind)}' is not available in this build: the ILGPU backend is not present.");
}
