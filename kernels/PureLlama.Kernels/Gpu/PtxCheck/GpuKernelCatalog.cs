using System.Reflection;
using ILGPU.Runtime;
using PureLlama.Kernels.Unary;

namespace PureLlama.Kernels.Gpu.PtxCheck;

/// <summary>One GPU kernel entry point: a name for reports and the static method ILGPU compiles.</summary>
/// <param name="Name">Report and file name, e.g. "GpuRmsNorm.ForwardKernel".</param>
/// <param name="Method">The kernel method (closed over its type arguments when generic).</param>
/// <param name="ExplicitlyGrouped">True for kernels launched with a KernelConfig (Grid/Group indices).</param>
internal sealed record GpuKernelEntry(string Name, MethodInfo Method, bool ExplicitlyGrouped = true)
{
    /// <summary>The declared launch bounds (<see cref="GpuKernelAttribute.MaxGroupSize"/>), used by the launch cache and the PTX check.</summary>
    public KernelSpecialization Specialization { get; init; } = KernelSpecialization.Empty;
}

/// <summary>
/// Every GPU kernel of the engine, read from the <see cref="GpuKernelAttribute"/> declarations on
/// the kernel methods (nothing is listed by hand): the PTX check (<see cref="PtxReport"/>) compiles
/// these, and <see cref="GpuKernelCache"/> launches only these.
/// </summary>
internal static class GpuKernelCatalog
{
    private const BindingFlags Statics = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    /// <summary>All kernels, in a stable order (type, then declaration order).</summary>
    public static IReadOnlyList<GpuKernelEntry> All { get; } = Discover();

    private static readonly Dictionary<MethodInfo, GpuKernelEntry> ByMethod = All.ToDictionary(e => e.Method);

    /// <summary>The declaration of <paramref name="method"/> (a closed kernel method), or null when it is not declared.</summary>
    public static GpuKernelEntry? Find(MethodInfo method) => ByMethod.GetValueOrDefault(method);

    /// <summary>Report name of a kernel method: Owner.Method, plus _TypeArg… for generic ones.</summary>
    public static string NameOf(MethodInfo method)
    {
        string name = $"{method.DeclaringType!.Name}.{method.Name}";
        return method.IsGenericMethod ? name + "_" + string.Join("_", method.GetGenericArguments().Select(t => t.Name)) : name;
    }

    private static List<GpuKernelEntry> Discover() =>
    [
        .. typeof(GpuKernelCatalog).Assembly.GetTypes().OrderBy(t => t.FullName, StringComparer.Ordinal)
            .SelectMany(t => t.GetMethods(Statics).OrderBy(m => m.MetadataToken))
            .SelectMany(m => m.GetCustomAttributes<GpuKernelAttribute>().SelectMany(a => Close(m, a))),
    ];

    private static IEnumerable<GpuKernelEntry> Close(MethodInfo method, GpuKernelAttribute declaration)
    {
        if (!method.IsGenericMethodDefinition)
        {
            yield return new(NameOf(method), method, declaration.ExplicitlyGrouped) { Specialization = Specialization(declaration) };
            yield break;
        }
        if (declaration.TypeArguments.Count != method.GetGenericArguments().Length)
            throw new InvalidOperationException($"GPU kernel {method.DeclaringType!.Name}.{method.Name} is generic; its [GpuKernel] must give its type arguments.");
        foreach (var args in Expand(declaration.TypeArguments))
        {
            var closed = method.MakeGenericMethod(args);
            yield return new(NameOf(closed), closed, declaration.ExplicitlyGrouped) { Specialization = Specialization(declaration) };
        }
    }

    private static KernelSpecialization Specialization(GpuKernelAttribute d) =>
        d.MaxGroupSize > 0 || d.MinGroupsPerMultiprocessor > 0
            ? new KernelSpecialization(d.MaxGroupSize > 0 ? d.MaxGroupSize : null, d.MinGroupsPerMultiprocessor > 0 ? d.MinGroupsPerMultiprocessor : null)
            : KernelSpecialization.Empty;

    // A family interface stands for every member of the family.
    private static IEnumerable<Type[]> Expand(IReadOnlyList<Type> args) =>
        args.Count == 1 && args[0] == typeof(IUnaryOp) ? UnaryOp.All.Select(op => new[] { op.OpType })
        : args.Count == 1 && args[0] == typeof(Blocks.IBlockFormat) ? Blocks.BlockFormats.Structs.Select(t => new[] { t })
        : [args.ToArray()];
}
