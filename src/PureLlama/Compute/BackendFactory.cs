using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>Creates the non-CPU backends: ILGPU on CUDA, and ILGPU's CPU accelerator.</summary>
internal static class BackendFactory
{
    public static bool IsAvailable(DeviceKind kind) => IlgpuBackend.IsAvailable(kind);

    public static IBackend Create(DeviceKind kind) => new IlgpuBackend(kind);
}
