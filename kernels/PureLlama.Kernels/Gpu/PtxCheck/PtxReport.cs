using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PureLlama.Kernels.Gpu.PtxCheck;

/// <summary>Outcome of compiling one kernel to PTX: the file written, or the compiler's error.</summary>
public sealed record PtxResult(string Kernel, string? PtxPath, string? Error)
{
    /// <summary>True when PTX was produced.</summary>
    public bool Ok => Error is null;
}

/// <summary>
/// Compiles GPU kernels to PTX for sm_90 with no GPU present (ILGPU's PTX backend driven
/// directly), one <c>.ptx</c> file per kernel, for assembling with <c>ptxas -arch=sm_90</c>
/// (scripts/ptx-check.sh). PTX ISA 7.8 is requested: the newest that CUDA 11.8's ptxas accepts.
/// A fresh ILGPU context is used, configured like the runtime one, so an internal compiler error
/// cannot poison the process-wide context, and each kernel is compiled in isolation.
/// </summary>
public static class PtxReport
{
    /// <summary>Target architecture of the check.</summary>
    public static CudaArchitecture Architecture => CudaArchitecture.SM_90;

    /// <summary>PTX ISA of the check (ptxas 11.8 accepts ≤ 7.8).</summary>
    public static CudaInstructionSet InstructionSet => new(7, 8);

    /// <summary>
    /// Compiles every kernel of <see cref="GpuKernelCatalog.All"/> into <paramref name="outputDirectory"/>, and writes the
    /// kernels generated as PTX text by <see cref="Ptx.PtxBuilder"/> beside them.
    /// </summary>
    public static IReadOnlyList<PtxResult> CompileAll(string outputDirectory)
    {
        var results = new List<PtxResult>(Compile(GpuKernelCatalog.All, outputDirectory));
        foreach (var (name, generate) in Ptx.PtxKernels.All)
        {
            try
            {
                string path = Path.Combine(outputDirectory, name + ".ptx");
                File.WriteAllText(path, generate(TargetName));
                results.Add(new PtxResult(name, path, null));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                results.Add(new PtxResult(name, null, $"{ex.GetType().Name}: {ex.Message}"));
            }
        }
        return results;
    }

    /// <summary>The .target of generated PTX in the check.</summary>
    private const string TargetName = "sm_90";

    /// <summary>Compiles the given kernels, writing <c>{Name}.ptx</c> for each into <paramref name="outputDirectory"/>.</summary>
    public static IReadOnlyList<PtxResult> Compile(IEnumerable<GpuKernelEntry> kernels, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        var results = new List<PtxResult>();
        using var context = Context.Create(builder => GpuContext.ConfigureCompiler(builder));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(Architecture), Architecture, InstructionSet, null);
        foreach (var kernel in kernels)
        {
            try
            {
                var entry = kernel.ExplicitlyGrouped
                    ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method)
                    : EntryPointDescription.FromImplicitlyGroupedKernel(kernel.Method);
                var compiled = backend.Compile(entry, KernelSpecialization.Empty);
                string ptx = compiled is PTXCompiledKernel p ? p.PTXAssembly
                    : throw new InvalidOperationException($"PTX backend returned {compiled.GetType().Name}");
                string path = Path.Combine(outputDirectory, kernel.Name + ".ptx");
                File.WriteAllText(path, ptx);
                results.Add(new PtxResult(kernel.Name, path, null));
            }
            catch (Exception ex)
            {
                results.Add(new PtxResult(kernel.Name, null, $"{ex.GetType().Name}: {ex.Message}"));
            }
        }
        return results;
    }
}
