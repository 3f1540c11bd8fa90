namespace PureLlama.Kernels.Gpu.Ptx;

/// <summary>Every kernel written with <see cref="PtxBuilder"/>: its name and its generator (target → PTX text), for the PTX check.</summary>
internal static class PtxKernels
{
    /// <summary>Name and generator of each generated kernel.</summary>
    public static IReadOnlyList<(string Name, Func<string, string> Generate)> All { get; } =
    [
        ("PtxBf16Gemm", PtxBf16Gemm.Generate),
    ];
}
