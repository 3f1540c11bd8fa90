namespace PureLlama.Kernels.Gpu;

/// <summary>
/// Declares a static method as a GPU kernel: the one declaration that the launch cache
/// (<see cref="GpuKernelCache"/> refuses undeclared kernels), the PTX check
/// (<see cref="PtxCheck.GpuKernelCatalog"/>) and the reports read. A generic kernel carries one
/// attribute per instantiation with its type arguments; a type argument that is a family interface
/// (<see cref="Unary.IUnaryOp"/>, <see cref="Blocks.IBlockFormat"/>) stands for every member of the family
/// (<see cref="Unary.UnaryOp.All"/>, <see cref="Blocks.BlockFormats.Structs"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
internal sealed class GpuKernelAttribute(params Type[] typeArguments) : Attribute
{
    /// <summary>Type arguments closing a generic kernel (empty for a plain one).</summary>
    public IReadOnlyList<Type> TypeArguments { get; } = typeArguments;

    /// <summary>False for implicitly grouped kernels (first parameter an Index1D/2D/3D).</summary>
    public bool ExplicitlyGrouped { get; init; } = true;

    /// <summary>
    /// Launch bounds (CUDA's __launch_bounds__, PTX .maxntid/.minnctapersm; 0 = none): the group size every launch uses
    /// and the groups that must fit on one multiprocessor, so ptxas caps registers at 65536 / (size · groups).
    /// </summary>
    public int MaxGroupSize { get; init; }

    /// <summary>Groups per multiprocessor the register budget must allow (with <see cref="MaxGroupSize"/>; 0 = none).</summary>
    public int MinGroupsPerMultiprocessor { get; init; }
}
