using System.Reflection;
using ILGPU.Runtime.CPU;
using PureLlama.Kernels.Gpu;
using PureLlama.Kernels.Gpu.PtxCheck;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>Kernel cache, error messages and the PTX compile step (no GPU needed).</summary>
[Collection("Gpu")]
public sealed class GpuInfrastructureTests
{
    [Fact]
    public void EveryCatalogueKernel_CompilesToPtxForSm90()
    {
        string dir = Path.Combine(Path.GetTempPath(), "purellama-ptx-" + Guid.NewGuid().ToString("N"));
        try
        {
            var results = PtxReport.CompileAll(dir);
            results.Should().HaveCount(GpuKernelCatalog.All.Count + PureLlama.Kernels.Gpu.Ptx.PtxKernels.All.Count, "the ILGPU kernels and the PTX-builder ones");
            results.Where(r => !r.Ok).Select(r => $"{r.Kernel}: {r.Error}").Should().BeEmpty();
            foreach (var r in results)
            {
                string ptx = File.ReadAllText(r.PtxPath!);
                ptx.Should().Contain(".version 7.8").And.Contain(".entry", because: r.Kernel);
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void KernelCache_LoadsOnce_NamesAFailingKernel_AndRefusesUndeclaredOnes()
    {
        using var context = ILGPU.Context.Create(b => b.CPU());
        using var acc = context.CreateCPUAccelerator(0);   // a private accelerator: the fake loads below stay in its cache
        var cache = GpuKernelCache.For(acc);
        cache.Should().BeSameAs(GpuKernelCache.For(acc.DefaultStream));
        var fill = typeof(GpuElementwise).GetMethod(nameof(GpuElementwise.FillKernel), BindingFlags.Static | BindingFlags.NonPublic)!;
        int loads = 0;
        Action Load(ILGPU.Runtime.Accelerator _) { loads++; return () => { }; }
        cache.Get(fill, Load);
        cache.Get(fill, Load);
        loads.Should().Be(1);

        var scale = typeof(GpuElementwise).GetMethod(nameof(GpuElementwise.ScaleKernel), BindingFlags.Static | BindingFlags.NonPublic)!;
        var broken = () => cache.Get<Action>(scale, _ => throw new NotSupportedException("boom"));
        broken.Should().Throw<InvalidOperationException>().WithMessage("*'GpuElementwise.ScaleKernel'*boom*");

        var undeclared = () => cache.Load<ILGPU.ArrayView<float>>(NotAKernel);
        undeclared.Should().Throw<InvalidOperationException>().WithMessage("*'GpuInfrastructureTests.NotAKernel'*not declared*[GpuKernel]*");
    }

    [Fact]
    public void Catalogue_is_read_from_the_declarations_with_every_unary_op()
    {
        GpuKernelCatalog.All.Select(e => e.Name).Should().OnlyHaveUniqueItems();
        foreach (var op in Unary.UnaryOp.All)
            GpuKernelCatalog.All.Should().Contain(e => e.Name == $"GpuUnary.GatedBackwardKernel_{op.OpType.Name}");
        GpuKernelCatalog.All.Should().Contain(e => e.Name == "GpuTiledMatmul.Kernel_Single_UInt16_F32Widen_Bf16Widen");
    }

    private static void NotAKernel(ILGPU.ArrayView<float> x) { }

    [Fact]
    public void ParseKind_AcceptsDeviceNames_AndRejectsOthers()
    {
        GpuContext.ParseKind("cuda").Should().Be(GpuDeviceKind.Cuda);
        GpuContext.ParseKind("ILGPU-CPU").Should().Be(GpuDeviceKind.IlgpuCpu);
        var act = () => GpuContext.ParseKind("tpu");
        act.Should().Throw<ArgumentException>().WithMessage("*tpu*");
    }

    [Fact]
    public void CudaRequestedWithoutDevice_GivesTheDocumentedMessage()
    {
        if (GpuContext.HasCuda) return; // only meaningful on machines without CUDA
        var act = () => GpuContext.CreateAccelerator(GpuDeviceKind.Cuda);
        act.Should().Throw<GpuDeviceNotFoundException>()
            .WithMessage("CUDA requested (--device cuda / PURELLAMA_DEVICE) but no CUDA device was found: *");
    }
}
