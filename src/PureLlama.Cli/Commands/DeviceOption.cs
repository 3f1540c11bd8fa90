using System.CommandLine;
using PureLlama.Compute;
using PureLlama.Tensors;

namespace PureLlama.Cli.Commands;

/// <summary>The shared <c>--device cpu|cuda|ilgpu-cpu</c> option (default: PURELLAMA_DEVICE, else CUDA when present, else CPU).</summary>
internal static class DeviceOption
{
    public static Option<string?> Create() => new("--device")
    {
        Description = "cpu | cuda | ilgpu-cpu (default: $PURELLAMA_DEVICE, else cuda when a GPU is present, else cpu)",
    };

    public static Device Resolve(string? value) => string.IsNullOrWhiteSpace(value) ? Backends.DefaultDevice() : Device.Parse(value);
}
