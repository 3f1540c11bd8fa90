using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace PureLlama.Kernels.Gpu;

/// <summary>Which ILGPU accelerator to run GPU kernels on.</summary>
public enum GpuDeviceKind
{
    /// <summary>An NVIDIA GPU through the CUDA driver.</summary>
    Cuda,
    /// <summary>ILGPU's CPU accelerator: a simulator (each GPU thread an OS thread), for tests.</summary>
    IlgpuCpu,
}

/// <summary>Raised when the requested GPU device is not available.</summary>
internal sealed class GpuDeviceNotFoundException : InvalidOperationException
{
    /// <summary>Creates the exception with its message.</summary>
    public GpuDeviceNotFoundException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The process-wide ILGPU <see cref="Context"/> and accelerator creation. One context per process:
/// ILGPU contexts are heavyweight and cache compiled kernels; after an internal compiler error a
/// context is unusable, so kernels are compiled lazily and failures surface per kernel.
/// </summary>
internal static class GpuContext
{
    private static readonly object Gate = new();
    private static Context? shared;

    /// <summary>
    /// The CPU-accelerator device used by tests and <c>ilgpu-cpu</c>: warp 32, 8 warps per group
    /// (256 threads per group, as on the GPU), one multiprocessor.
    /// </summary>
    public static CPUDevice SimulatorDevice { get; } = new(32, 8, 1);

    /// <summary>The shared context (created on first use, with ILGPU.Algorithms enabled).</summary>
    public static Context Shared
    {
        get
        {
            lock (Gate)
            {
                if (shared is null)
                {
                    CudaDriverLoader.Register();
                    shared = CreateContext();
                }
                return shared;
            }
        }
    }

    /// <summary>Builds a context with the simulator CPU device and CUDA devices (if any).</summary>
    public static Context CreateContext() =>
        Context.Create(builder => ConfigureCompiler(builder.CPU(SimulatorDevice).Cuda()));

    /// <summary>
    /// Compiler settings shared by the runtime context and the PTX check: 32-bit float math
    /// (no silent promotion to double), O1, and ILGPU.Algorithms (XMath intrinsics).
    /// </summary>
    public static Context.Builder ConfigureCompiler(Context.Builder builder) =>
        builder.Math(MathMode.Fast32BitOnly).Optimize(OptimizationLevel.O1).EnableAlgorithms();

    /// <summary>True when the CUDA driver reports at least one device.</summary>
    public static bool HasCuda
    {
        get
        {
            try { return Shared.GetCudaDevices().Count > 0; }
            catch (Exception) { return false; }
        }
    }

    /// <summary>
    /// Parses a device name: <c>cuda</c> or <c>ilgpu-cpu</c> (case-insensitive).
    /// </summary>
    public static GpuDeviceKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cuda" or "gpu" => GpuDeviceKind.Cuda,
        "ilgpu-cpu" or "ilgpu_cpu" => GpuDeviceKind.IlgpuCpu,
        _ => throw new ArgumentException($"Unknown GPU device '{name}': expected 'cuda' or 'ilgpu-cpu'.", nameof(name)),
    };

    /// <summary>
    /// Creates an accelerator of the given kind on the shared context (the caller disposes it).
    /// CUDA picks device <paramref name="cudaOrdinal"/>; a clear error is raised when there is none.
    /// </summary>
    public static Accelerator CreateAccelerator(GpuDeviceKind kind, int cudaOrdinal = 0)
    {
        var context = Shared;
        if (kind == GpuDeviceKind.IlgpuCpu)
            return context.GetCPUDevices()[0].CreateAccelerator(context);

        List<CudaDevice> devices;
        try
        {
            var found = context.GetCudaDevices();
            devices = new List<CudaDevice>(found.Count);
            for (int i = 0; i < found.Count; i++) devices.Add(found[i]);
        }
        catch (Exception ex)
        {
            throw NoCuda($"the CUDA driver could not be queried ({ex.GetType().Name}: {ex.Message})", ex);
        }
        if (devices.Count == 0)
            throw NoCuda("ILGPU found no CUDA device (is the NVIDIA driver installed, libcuda.so.1 loadable, and a GPU visible?)");
        if (cudaOrdinal < 0 || cudaOrdinal >= devices.Count)
            throw NoCuda($"CUDA device {cudaOrdinal} requested but only {devices.Count} present");
        try
        {
            return devices[cudaOrdinal].CreateAccelerator(context);
        }
        catch (Exception ex)
        {
            throw NoCuda($"creating the CUDA accelerator on {devices[cudaOrdinal].Name} failed ({ex.Message})", ex);
        }
    }

    private static GpuDeviceNotFoundException NoCuda(string why, Exception? inner = null) =>
        new($"CUDA requested (--device cuda / PURELLAMA_DEVICE) but no CUDA device was found: {why}.", inner);
}

/// <summary>
/// Lets ILGPU find the CUDA driver on driver-only machines: ILGPU imports <c>nvcuda</c>, which
/// on Linux only resolves where a development symlink <c>libcuda.so</c> exists. The driver package
/// always ships <c>libcuda.so.1</c>; this resolver loads it when the default probing fails.
/// It hooks <see cref="AssemblyLoadContext.ResolvingUnmanagedDll"/> so it never conflicts with a
/// per-assembly <see cref="NativeLibrary.SetDllImportResolver"/> (ILGPU registers its own).
/// </summary>
internal static class CudaDriverLoader
{
    private static int registered;

    /// <summary>Registers the fallback once per process (idempotent).</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1) return;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
    }

    private static IntPtr Resolve(Assembly assembly, string name)
    {
        if (!IsCudaDriverName(name)) return IntPtr.Zero;
        string[] candidates = OperatingSystem.IsWindows()
            ? ["nvcuda.dll"]
            : ["libcuda.so.1", "libcuda.so", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1",
               "/usr/lib/wsl/lib/libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1"];
        foreach (var candidate in candidates)
            if (NativeLibrary.TryLoad(candidate, out var handle)) return handle;
        return IntPtr.Zero;
    }

    private static bool IsCudaDriverName(string name)
    {
        var n = name.ToLowerInvariant();
        return n is "nvcuda" or "nvcuda.dll" or "cuda" or "libcuda" or "libcuda.so" or "libnvcuda.so";
    }
}
