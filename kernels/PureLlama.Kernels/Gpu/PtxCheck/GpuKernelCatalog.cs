using System.Reflection;

namespace PureLlama.Kernels.Gpu.PtxCheck;

/// <summary>One GPU kernel entry point: a name for reports and the static method ILGPU compiles.</summary>
/// <param name="Name">Report and file name, e.g. "GpuRmsNorm.ForwardKernel".</param>
/// <param name="Method">The kernel method (closed over its type arguments when generic).</param>
/// <param name="ExplicitlyGrouped">True for kernels launched with a KernelConfig (Grid/Group indices).</param>
public sealed record GpuKernelEntry(string Name, MethodInfo Method, bool ExplicitlyGrouped = true);

/// <summary>
/// Every GPU kernel of the engine, for the PTX check (<see cref="PtxReport"/>). Adding a kernel is
/// one line: <c>Explicit(typeof(Owner), nameof(Owner.Kernel))</c>, with type arguments for generic
/// kernels, or <c>Implicit(…)</c> for implicitly grouped (index-parameter) kernels.
/// </summary>
public static class GpuKernelCatalog
{
    /// <summary>All kernels, in a stable order.</summary>
    public static IReadOnlyList<GpuKernelEntry> All { get; } =
    [
        Explicit(typeof(GpuElementwise), nameof(GpuElementwise.BinaryKernel)),
        Explicit(typeof(GpuElementwise), nameof(GpuElementwise.BinaryBroadcastKernel)),
        Explicit(typeof(GpuElementwise), nameof(GpuElementwise.ScaleKernel)),
        Explicit(typeof(GpuElementwise), nameof(GpuElementwise.AxpyKernel)),
        Explicit(typeof(GpuElementwise), nameof(GpuElementwise.FillKernel)),
        Explicit(typeof(GpuReduce), nameof(GpuReduce.SumKernel)),
        Explicit(typeof(GpuReduce), nameof(GpuReduce.SumOverRowsKernel)),
        Explicit(typeof(GpuReduce), nameof(GpuReduce.SumOverColsKernel)),
        Explicit(typeof(GpuRmsNorm), nameof(GpuRmsNorm.ForwardKernel)),
        Explicit(typeof(GpuRmsNorm), nameof(GpuRmsNorm.ForwardBf16Kernel)),
        Explicit(typeof(GpuRmsNorm), nameof(GpuRmsNorm.BackwardKernel)),
        Explicit(typeof(GpuRmsNorm), nameof(GpuRmsNorm.BackwardBf16Kernel)),
        Explicit(typeof(GpuRmsNorm), nameof(GpuRmsNorm.WeightGradKernel)),
        Explicit(typeof(GpuRope), nameof(GpuRope.ApplyKernel)),
        Explicit(typeof(GpuActivations), nameof(GpuActivations.SiluKernel)),
        Explicit(typeof(GpuActivations), nameof(GpuActivations.SiluBackwardKernel)),
        Explicit(typeof(GpuActivations), nameof(GpuActivations.SwiGluKernel)),
        Explicit(typeof(GpuActivations), nameof(GpuActivations.SwiGluBackwardKernel)),
        Explicit(typeof(GpuSoftmax), nameof(GpuSoftmax.ForwardKernel)),
        Explicit(typeof(GpuSoftmax), nameof(GpuSoftmax.BackwardKernel)),
        Explicit(typeof(GpuCrossEntropy), nameof(GpuCrossEntropy.ForwardKernel)),
        Explicit(typeof(GpuCrossEntropy), nameof(GpuCrossEntropy.BackwardKernel)),
        Explicit(typeof(GpuEmbedding), nameof(GpuEmbedding.GatherKernel)),
        Explicit(typeof(GpuEmbedding), nameof(GpuEmbedding.GatherBf16Kernel)),
        Explicit(typeof(GpuEmbedding), nameof(GpuEmbedding.ScatterAddKernel)),
        Explicit(typeof(GpuConvert), nameof(GpuConvert.F32ToBf16Kernel)),
        Explicit(typeof(GpuConvert), nameof(GpuConvert.Bf16ToF32Kernel)),
        Explicit(typeof(GpuConvert), nameof(GpuConvert.F32ToF16Kernel)),
        Explicit(typeof(GpuConvert), nameof(GpuConvert.F16ToF32Kernel)),
        Explicit(typeof(GpuAdamW), nameof(GpuAdamW.StepKernel)),
        Explicit(typeof(GpuAdamW8bit), nameof(GpuAdamW8bit.StepKernel)),
        Explicit(typeof(GpuLora), nameof(GpuLora.DownKernel)),
        Explicit(typeof(GpuLora), nameof(GpuLora.UpKernel)),
        Explicit(typeof(GpuLora), nameof(GpuLora.GradHiddenKernel)),
        Explicit(typeof(GpuLora), nameof(GpuLora.GradInputKernel)),
        Explicit(typeof(GpuLora), nameof(GpuLora.OuterSumKernel)),
        Explicit(typeof(GpuLora), nameof(GpuLora.OuterSumTransposedKernel)),
        Explicit(typeof(GpuInt4Group), nameof(GpuInt4Group.ForwardKernel)),
        Explicit(typeof(GpuInt4Group), nameof(GpuInt4Group.TransposedKernel)),
        Explicit(typeof(GpuInt4Group), nameof(GpuInt4Group.DequantizeKernel)),
        Explicit(typeof(GpuStridedCopy), nameof(GpuStridedCopy.CopyKernel), typeof(float)),
        Explicit(typeof(GpuStridedCopy), nameof(GpuStridedCopy.CopyKernel), typeof(ushort)),
        Explicit(typeof(GpuStridedCopy), nameof(GpuStridedCopy.CopyKernel), typeof(byte)),
        Explicit(typeof(GpuStridedCopy), nameof(GpuStridedCopy.CopyStridedKernel), typeof(float)),
        Explicit(typeof(GpuStridedCopy), nameof(GpuStridedCopy.CopyStridedKernel), typeof(ushort)),
        // Matmul kernels (Gpu/Matmul).
        Explicit(typeof(TiledMatmulKernel), nameof(TiledMatmulKernel.Kernel), typeof(float), typeof(float), typeof(F32Widen), typeof(F32Widen)),
        Explicit(typeof(TiledMatmulKernel), nameof(TiledMatmulKernel.Kernel), typeof(float), typeof(ushort), typeof(F32Widen), typeof(Bf16Widen)),
        Explicit(typeof(TiledMatmulKernel), nameof(TiledMatmulKernel.Kernel), typeof(ushort), typeof(ushort), typeof(Bf16Widen), typeof(Bf16Widen)),
        Explicit(typeof(GemvBf16Kernel), nameof(GemvBf16Kernel.Kernel)),
        Explicit(typeof(TensorCoreMatmulKernel), nameof(TensorCoreMatmulKernel.Kernel)),
        // Dequant-matmul kernels (Gpu/Quantized).
        Explicit(typeof(Nf4GemvKernel), nameof(Nf4GemvKernel.Kernel)),
        Explicit(typeof(Int8GemvKernel), nameof(Int8GemvKernel.Kernel)),
        Explicit(typeof(QuantGemmKernels), nameof(QuantGemmKernels.Nf4Kernel)),
        Explicit(typeof(QuantGemmKernels), nameof(QuantGemmKernels.Int8Kernel)),
        Explicit(typeof(QuantDequantizeKernels), nameof(QuantDequantizeKernels.Nf4Kernel)),
        Explicit(typeof(QuantDequantizeKernels), nameof(QuantDequantizeKernels.Int8Kernel)),
        .. Blocks.BlockFormats.Structs.SelectMany(t => new[]
        {
            Explicit(typeof(GgmlBlockKernels), nameof(GgmlBlockKernels.GemvKernel), t),
            Explicit(typeof(GgmlBlockKernels), nameof(GgmlBlockKernels.GemmKernel), t),
            Explicit(typeof(GgmlBlockKernels), nameof(GgmlBlockKernels.DequantizeKernel), t),
        }),
        Explicit(typeof(GpuFlashAttention), nameof(GpuFlashAttention.ForwardKernel)),
        Explicit(typeof(GpuFlashAttentionTiled), nameof(GpuFlashAttentionTiled.ForwardKernel)),
        Explicit(typeof(GpuFlashAttention), nameof(GpuFlashAttention.DecodeKernel)),
        Explicit(typeof(GpuFlashAttention), nameof(GpuFlashAttention.CombineKernel)),
        Explicit(typeof(GpuFlashAttentionBackward), nameof(GpuFlashAttentionBackward.RowDotKernel)),
        Explicit(typeof(GpuFlashAttentionBackward), nameof(GpuFlashAttentionBackward.KeyGradKernel)),
        Explicit(typeof(GpuFlashAttentionBackward), nameof(GpuFlashAttentionBackward.QueryGradKernel)),
    ];

    /// <summary>An explicitly grouped kernel <paramref name="owner"/>.<paramref name="method"/>, closed over <paramref name="typeArguments"/>.</summary>
    public static GpuKernelEntry Explicit(Type owner, string method, params Type[] typeArguments) => Entry(owner, method, typeArguments, explicitlyGrouped: true);

    /// <summary>An implicitly grouped kernel (first parameter an Index1D/2D/3D).</summary>
    public static GpuKernelEntry Implicit(Type owner, string method, params Type[] typeArguments) => Entry(owner, method, typeArguments, explicitlyGrouped: false);

    private static GpuKernelEntry Entry(Type owner, string method, Type[] typeArguments, bool explicitlyGrouped)
    {
        const BindingFlags flags = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        var info = owner.GetMethod(method, flags)
            ?? throw new InvalidOperationException($"GPU kernel catalogue: {owner.Name}.{method} not found.");
        string name = $"{owner.Name}.{method}";
        if (typeArguments.Length > 0)
        {
            info = info.MakeGenericMethod(typeArguments);
            name += "_" + string.Join("_", typeArguments.Select(t => t.Name));
        }
        return new GpuKernelEntry(name, info, explicitlyGrouped);
    }
}
