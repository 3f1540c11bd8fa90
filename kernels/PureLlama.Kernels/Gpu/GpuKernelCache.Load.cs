using ILGPU;
using ILGPU.Runtime;

namespace PureLlama.Kernels.Gpu;

// Typed launchers of declared kernels, one overload per parameter count (ILGPU's own LoadKernel shape):
// k.Load<A, B>(Kernel) returns Action<AcceleratorStream, KernelConfig, A, B>, cached per accelerator.
internal sealed partial class GpuKernelCache
{
    private TLauncher Launcher<TLauncher>(Delegate kernel) where TLauncher : Delegate =>
        Get(kernel.Method, (acc, bounds) => acc.LoadKernel<TLauncher>(kernel.Method, bounds));

    /// <summary>Launcher of a declared kernel with 1 parameter.</summary>
    public Action<AcceleratorStream, KernelConfig, T1> Load<T1>(Action<T1> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1>>(kernel);

    /// <summary>Launcher of a declared kernel with 2 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2> Load<T1, T2>(Action<T1, T2> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2>>(kernel);

    /// <summary>Launcher of a declared kernel with 3 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3> Load<T1, T2, T3>(Action<T1, T2, T3> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3>>(kernel);

    /// <summary>Launcher of a declared kernel with 4 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4> Load<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4>>(kernel);

    /// <summary>Launcher of a declared kernel with 5 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5> Load<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5>>(kernel);

    /// <summary>Launcher of a declared kernel with 6 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6> Load<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>>(kernel);

    /// <summary>Launcher of a declared kernel with 7 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7>
        Load<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7>>(kernel);

    /// <summary>Launcher of a declared kernel with 8 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>
        Load<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>>(kernel);

    /// <summary>Launcher of a declared kernel with 9 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9>
        Load<T1, T2, T3, T4, T5, T6, T7, T8, T9>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9>>(kernel);

    /// <summary>Launcher of a declared kernel with 10 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>
        Load<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>>(kernel);

    /// <summary>Launcher of a declared kernel with 11 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>
        Load<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>>(kernel);

    /// <summary>Launcher of a declared kernel with 12 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>
        Load<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>>(kernel);

    /// <summary>Launcher of a declared kernel with 13 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> Load<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13>>(kernel);

    /// <summary>Launcher of a declared kernel with 14 parameters.</summary>
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> Load<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> kernel) =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14>>(kernel);
}
