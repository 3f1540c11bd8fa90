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
            results.Should().HaveCount(GpuKernelCatalog.All.Count);
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
    public void KernelCache_LoadsOnce_AndNamesAFailingKernel()
    {
        var acc = GpuTestDevices.Get("ilgpu-cpu");
        var cache = GpuKernelCache.For(acc);
        cache.Should().BeSameAs(GpuKernelCache.For(acc.DefaultStream));
        int loads = 0;
        Action Load(ILGPU.Runtime.Accelerator _) { loads++; return () => { }; }
        cache.Get("Test.Once", Load);
        cache.Get("Test.Once", Load);
        loads.Should().Be(1);

        var act = () => cache.Get<Action>("Test.Broken", _ => throw new NotSupportedException("boom"));
        act.Should().Throw<InvalidOperationException>().WithMessage("*'Test.Broken'*boom*");
    }

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
