using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PureLlama.Kernels.Gpu.Ptx;

/// <summary>One kernel argument as the CUDA driver takes it: its bytes (a device pointer or a 32-bit integer).</summary>
internal readonly record struct PtxArgument(ulong Bits, int Size)
{
    /// <summary>The device address of a view's first element.</summary>
    public static PtxArgument Pointer<T>(ArrayView<T> view) where T : unmanaged => new((ulong)view.LoadEffectiveAddressAsPtr().ToInt64(), 8);

    /// <summary>A .u32 parameter.</summary>
    public static PtxArgument U32(int value) => new((uint)value, 4);
}

/// <summary>
/// A PTX kernel made by <see cref="PtxBuilder"/>, loaded into an ILGPU CUDA accelerator's context with ILGPU's own
/// driver API (cuModuleLoadData → the driver JIT-compiles it for the device, cuModuleGetFunction, cuLaunchKernel on
/// the ILGPU stream), so it runs on ILGPU buffers in order with ILGPU's kernels and needs nothing but the driver.
/// </summary>
internal sealed unsafe class CudaPtxKernel : IDisposable
{
    private readonly CudaAccelerator _accelerator;
    private readonly IntPtr _module;
    private readonly IntPtr _function;
    private readonly string _name;
    private bool _disposed;

    private CudaPtxKernel(CudaAccelerator accelerator, IntPtr module, IntPtr function, string name)
    {
        _accelerator = accelerator; _module = module; _function = function; _name = name;
    }

    /// <summary>Loads entry point <paramref name="entry"/> of module text <paramref name="ptx"/>; the driver's error log names what it rejected.</summary>
    public static CudaPtxKernel Load(CudaAccelerator accelerator, string ptx, string entry)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        using var binding = accelerator.BindScoped();
        var api = CudaAPI.CurrentAPI;
        var error = api.LoadModule(out IntPtr module, ptx, out string? log);
        if (error != CudaError.CUDA_SUCCESS)
            throw new InvalidOperationException($"The CUDA driver rejected the PTX of kernel {entry}: {error}. {log}");
        error = api.GetModuleFunction(out IntPtr function, module, entry);
        if (error != CudaError.CUDA_SUCCESS)
        {
            api.DestroyModule(module);
            throw new InvalidOperationException($"PTX module has no entry point {entry}: {error}.");
        }
        return new CudaPtxKernel(accelerator, module, function, entry);
    }

    /// <summary>Launches grid (x, y) of <paramref name="threads"/>-thread blocks on <paramref name="stream"/> with the arguments in order.</summary>
    public void Launch(AcceleratorStream stream, int gridX, int gridY, int threads, ReadOnlySpan<PtxArgument> arguments)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (gridX == 0 || gridY == 0) return;
        var values = stackalloc ulong[arguments.Length];
        var pointers = stackalloc IntPtr[arguments.Length];
        for (int i = 0; i < arguments.Length; i++)
        {
            values[i] = arguments[i].Bits;     // little-endian: a u32 is the low 4 bytes of its slot
            pointers[i] = (IntPtr)(values + i);
        }
        using var binding = _accelerator.BindScoped();
        var error = CudaAPI.CurrentAPI.LaunchKernel(_function, gridX, gridY, 1, threads, 1, 1, 0,
            ((CudaStream)stream).StreamPtr, (IntPtr)pointers, IntPtr.Zero);
        if (error != CudaError.CUDA_SUCCESS) throw new InvalidOperationException($"Launching PTX kernel {_name} failed: {error}.");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        using var binding = _accelerator.BindScoped();
        CudaAPI.CurrentAPI.DestroyModule(_module);
    }
}
