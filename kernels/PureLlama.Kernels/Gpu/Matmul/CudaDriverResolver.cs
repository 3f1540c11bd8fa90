using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;

namespace PureLlama.Kernels.Gpu;

/// <summary>
/// ILGPU imports the CUDA driver API as "cuda"/"nvcuda", which .NET resolves to
/// <c>libcuda.so</c>. Machines with only the NVIDIA driver installed ship
/// <c>libcuda.so.1</c> and no unversioned link (that comes with the CUDA toolkit), so ILGPU
/// would see no CUDA device. This resolver maps those names to <c>libcuda.so.1</c> on Linux.
/// Call <see cref="Register"/> once before creating an ILGPU <see cref="Context"/>.
/// (Lives beside the matmul kernels for now; the backend may move it.)
/// </summary>
public static class CudaDriverResolver
{
    private static int _registered;

    /// <summary>Installs the resolver on the ILGPU assembly (idempotent, thread-safe).</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) != 0) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Someone else already installed a resolver on ILGPU: keep theirs.
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        bool isCuda = name.Equals("cuda", StringComparison.OrdinalIgnoreCase)
            || name.Equals("nvcuda", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("libcuda", StringComparison.OrdinalIgnoreCase);
        if (!isCuda || !OperatingSystem.IsLinux()) return IntPtr.Zero; // default probing
        foreach (var candidate in new[] { "libcuda.so.1", "libcuda.so" })
        {
            if (NativeLibrary.TryLoad(candidate, out IntPtr handle)) return handle;
        }
        return IntPtr.Zero;
    }
}
