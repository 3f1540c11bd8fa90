namespace PureLlama.Tensors;

/// <summary>Kinds of device a tensor can live on.</summary>
public enum DeviceKind
{
    /// <summary>Host memory, computed by the SIMD C# kernels.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through ILGPU's CUDA accelerator.</summary>
    Cuda,
    /// <summary>ILGPU's CPU accelerator: the GPU kernels simulated on host threads (tests).</summary>
    IlgpuCpu,
}

/// <summary>Where a tensor lives and which backend computes on it.</summary>
public readonly record struct Device(DeviceKind Kind)
{
    /// <summary>The SIMD CPU device.</summary>
    public static Device Cpu => new(DeviceKind.Cpu);
    /// <summary>The CUDA GPU (index 0).</summary>
    public static Device Cuda => new(DeviceKind.Cuda);
    /// <summary>ILGPU's CPU accelerator.</summary>
    public static Device IlgpuCpu => new(DeviceKind.IlgpuCpu);

    /// <summary>Parses <c>cpu</c>, <c>cuda</c> or <c>ilgpu-cpu</c> (the <c>--device</c> values).</summary>
    public static Device Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cpu" => Cpu,
        "cuda" or "gpu" => Cuda,
        "ilgpu-cpu" => IlgpuCpu,
        _ => throw new ArgumentException($"Unknown device '{name}': expected cpu, cuda or ilgpu-cpu."),
    };

    /// <summary>The name accepted by <see cref="Parse"/>.</summary>
    public override string ToString() => Kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.Cuda => "cuda",
        DeviceKind.IlgpuCpu => "ilgpu-cpu",
        _ => Kind.ToString(),
    };
}
