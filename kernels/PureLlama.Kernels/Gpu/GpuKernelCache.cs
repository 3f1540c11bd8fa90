using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

/// <summary>
/// Loaded kernels of one accelerator, compiled lazily on first use and kept for the accelerator's
/// lifetime. <see cref="For(Accelerator)"/> finds (or creates) the cache of an accelerator, so kernel entry
/// points need only the <see cref="AcceleratorStream"/>. A compile failure throws
/// <see cref="InvalidOperationException"/> naming the kernel, and is not cached (the next call retries).
/// </summary>
internal sealed partial class GpuKernelCache
{
    private static readonly ConditionalWeakTable<Accelerator, GpuKernelCache> Caches = new();
    private readonly ConcurrentDictionary<MethodInfo, Lazy<Delegate>> kernels = new();

    private GpuKernelCache(Accelerator accelerator)
    {
        Accelerator = accelerator;
        int warp = Math.Max(1, accelerator.WarpSize);
        int max = Math.Min(256, accelerator.MaxNumThreadsPerGroup);
        RowGroupSize = Math.Max(warp, max / warp * warp);
        // Enough groups to fill the machine for grid-stride elementwise loops.
        MaxGroups = Math.Max(1, accelerator.NumMultiprocessors * Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / RowGroupSize) * 4);
        if (accelerator.AcceleratorType == AcceleratorType.CPU) MaxGroups = Math.Min(MaxGroups, 4);
    }

    /// <summary>The accelerator these kernels run on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Threads per group for row kernels and grid-stride loops (≤ 256, a warp multiple).</summary>
    public int RowGroupSize { get; }

    /// <summary>Upper bound on groups for grid-stride loops.</summary>
    public int MaxGroups { get; }

    /// <summary>Number of loaded kernels (for tests and diagnostics).</summary>
    public int Count => kernels.Count;

    /// <summary>The kernel cache of <paramref name="accelerator"/>.</summary>
    public static GpuKernelCache For(Accelerator accelerator) => Caches.GetValue(accelerator, a => new GpuKernelCache(a));

    /// <summary>The kernel cache of the stream's accelerator.</summary>
    public static GpuKernelCache For(AcceleratorStream stream) => For(stream.Accelerator);

    /// <summary>
    /// The launcher of the kernel <paramref name="kernel"/> (a method declared with <see cref="GpuKernelAttribute"/>),
    /// loaded with <paramref name="load"/> (given the declared launch bounds) on first use. An undeclared kernel is refused, so the PTX check
    /// (<see cref="PtxCheck.GpuKernelCatalog"/>) covers everything that can launch.
    /// </summary>
    internal TDelegate Get<TDelegate>(MethodInfo kernel, Func<Accelerator, KernelSpecialization, TDelegate> load) where TDelegate : Delegate
    {
        var lazy = kernels.GetOrAdd(kernel, _ => new Lazy<Delegate>(() => Load(kernel, load), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return (TDelegate)lazy.Value;
        }
        catch
        {
            kernels.TryRemove(new KeyValuePair<MethodInfo, Lazy<Delegate>>(kernel, lazy));
            throw;
        }
    }

    private Delegate Load<TDelegate>(MethodInfo kernel, Func<Accelerator, KernelSpecialization, TDelegate> load) where TDelegate : Delegate
    {
        var entry = PtxCheck.GpuKernelCatalog.Find(kernel)
            ?? throw new InvalidOperationException($"GPU kernel '{PtxCheck.GpuKernelCatalog.NameOf(kernel)}' is not declared with [GpuKernel]; declare it on the kernel method.");
        try
        {
            return load(Accelerator, entry.Specialization);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException(
                $"ILGPU failed to compile GPU kernel '{entry.Name}' for {Accelerator.AcceleratorType} ({Accelerator.Name}): {ex.Message}", ex);
        }
    }

    /// <summary>Launch shape for a grid-stride loop over <paramref name="n"/> elements.</summary>
    public KernelConfig Stride(long n)
    {
        long groups = (n + RowGroupSize - 1) / RowGroupSize;
        return new KernelConfig((int)Math.Clamp(groups, 1, MaxGroups), RowGroupSize);
    }

    /// <summary>
    /// Launch shape for column reductions: one group per 32 columns, the group's threads in
    /// 32-wide row slices (needs a warp of 32; RowGroupSize is a multiple of it).
    /// </summary>
    public KernelConfig ColumnTiles(long cols) => RowGroupSize % 32 == 0
        ? new((int)((cols + 31) / 32), RowGroupSize)
        : throw new NotSupportedException($"Column reductions need groups of a multiple of 32 threads; {Accelerator.Name} offers {RowGroupSize}.");

    /// <summary>Launch shape with one group per row (rows ≥ 1).</summary>
    public KernelConfig PerRow(long rows) => new((int)rows, RowGroupSize);
}
