using ILGPU.Runtime.Cuda;
using PureLlama.Kernels.Gpu;
using static PureLlama.Kernels.Tests.Gpu.GpuMatmulCheck;

namespace PureLlama.Kernels.Tests.Gpu;

/// <summary>
/// GpuMatmul on ILGPU's CPU accelerator (always runs, CI included). Shapes are small — the
/// simulator runs each GPU thread as an OS thread — but cross every tile edge of the kernels:
/// tiled kernel 128×128×16, tensor-core kernel 128×128×32, GEMV 8 rows per group.
/// </summary>
public sealed class GpuMatmulTests : IClassFixture<GpuMatmulCpuFixture>
{
    private const double F32Tolerance = 1e-5;
    private const double TensorCoreTolerance = 1e-4;
    private readonly GpuMatmulCpuFixture _cpu;

    public GpuMatmulTests(GpuMatmulCpuFixture cpu) => _cpu = cpu;

    // m, n ragged around the 128 tile; k = 37 is three 16-deep steps, the last one partial.
    public static TheoryData<int, int, int, int> TiledShapes => new()
    {
        { 1, 1, 1, 0 },
        { 17, 9, 5, 1 },
        { 130, 140, 37, 2 },
        { 3, 129, 16, 0 },
    };

    [Theory]
    [MemberData(nameof(TiledShapes))]
    public void F32_matches_float64_reference_for_every_layout(int m, int n, int k, int pad)
    {
        CheckAllLayouts(MatmulKind.F32, m, n, k, pad, F32Tolerance, seed: 11);
    }

    [Theory]
    [MemberData(nameof(TiledShapes))]
    public void F32Bf16_matches_reference_on_bf16_rounded_weights(int m, int n, int k, int pad)
    {
        CheckAllLayouts(MatmulKind.F32Bf16, m, n, k, pad, F32Tolerance, seed: 23);
    }

    [Theory]
    [MemberData(nameof(TiledShapes))]
    public void Bf16_off_cuda_uses_the_tiled_kernel_and_matches_reference(int m, int n, int k, int pad)
    {
        _cpu.Matmul.UsesTensorCores.Should().BeFalse("the CPU accelerator has no tensor cores");
        CheckAllLayouts(MatmulKind.Bf16, m, n, k, pad, F32Tolerance, seed: 37);
    }

    // The tensor-core kernel's tiling with the mma emulated from shared memory: 8-byte loads
    // (k, ld multiples of 4), the unchecked interior path (whole 128×128 block, k % 32 == 0),
    // per-element loads (odd k), several k steps, ragged m/n, padded leading dims, accumulate.
    [Theory]
    [InlineData(130, 136, 72, 0, false)]   // vectorized, edge blocks, 3 k steps (last partial)
    [InlineData(128, 128, 64, 0, true)]    // one interior block, 2 k steps, accumulate
    [InlineData(129, 257, 45, 3, false)]   // per-element loads, odd k, padded ld
    [InlineData(5, 7, 3, 1, true)]         // tiny, everything ragged
    public void Tensor_core_kernel_tiling_matches_reference(int m, int n, int k, int pad, bool accumulate)
    {
        var t = new MatmulCase(m, n, k, TransA: false, TransB: true, accumulate, pad);
        double err = Run(_cpu.Accelerator, _cpu.Matmul, MatmulKind.Bf16TensorCoreLayout, t, seed: 41 + m);
        err.Should().BeLessThanOrEqualTo(F32Tolerance, $"tensor-core layout {t}");
    }

    // Decode path: m = 1 with B a bf16 weight [n,k] goes to the warp-per-row GEMV.
    [Theory]
    [InlineData(37, 64, 0, false)]   // 8-byte loads, 5 groups of 8 rows
    [InlineData(37, 203, 1, true)]   // per-element loads, odd k, padded ld, accumulate
    [InlineData(1, 1, 0, false)]
    public void Gemv_bf16_matches_reference(int n, int k, int pad, bool accumulate)
    {
        foreach (bool transA in new[] { false, true })
        {
            var t = new MatmulCase(1, n, k, transA, TransB: true, accumulate, pad);
            double err = Run(_cpu.Accelerator, _cpu.Matmul, MatmulKind.F32Bf16, t, seed: 53 + n + k);
            err.Should().BeLessThanOrEqualTo(F32Tolerance, $"GEMV {t}");
        }
    }

    [Fact]
    public void Rejects_bad_shapes_and_leading_dimensions()
    {
        var acc = _cpu.Accelerator;
        using var a = acc.Allocate1D<float>(64);
        using var b = acc.Allocate1D<float>(64);
        using var c = acc.Allocate1D<float>(64);
        var s = acc.DefaultStream;
        var mm = _cpu.Matmul;

        FluentActions.Invoking(() => mm.F32(s, 0, 4, 4, a.View, 4, false, b.View, 4, false, c.View, 4, false))
            .Should().Throw<ArgumentException>().WithMessage("*m=0*");
        FluentActions.Invoking(() => mm.F32(s, 4, 4, 8, a.View, 4, false, b.View, 4, false, c.View, 4, false))
            .Should().Throw<ArgumentException>().WithMessage("*A*leading dimension*");
        FluentActions.Invoking(() => mm.F32(s, 4, 4, 4, a.View, 4, false, b.View, 4, false, c.View, 3, false))
            .Should().Throw<ArgumentException>().WithMessage("*C*leading dimension*");
        FluentActions.Invoking(() => mm.F32(s, 8, 8, 9, a.View, 9, false, b.View, 9, true, c.View, 8, false))
            .Should().Throw<ArgumentException>().WithMessage("*A*needs 72 elements*64*");
    }

    private void CheckAllLayouts(MatmulKind kind, int m, int n, int k, int pad, double tolerance, int seed)
    {
        foreach (var (ta, tb) in Transposes())
            foreach (bool accumulate in new[] { false, true })
            {
                var t = new MatmulCase(m, n, k, ta, tb, accumulate, pad);
                double err = Run(_cpu.Accelerator, _cpu.Matmul, kind, t, seed++);
                err.Should().BeLessThanOrEqualTo(tolerance, $"{kind} {t}");
            }
    }
}

/// <summary>
/// The same checks on a CUDA device, at larger shapes; skipped with a message where there is
/// none. The Bf16 path here runs on tensor cores (mma.sync m16n8k16) for A [m,k] · B [n,k].
/// </summary>
public sealed class GpuMatmulCudaTests : IClassFixture<GpuMatmulCudaFixture>
{
    private readonly GpuMatmulCudaFixture _cuda;

    public GpuMatmulCudaTests(GpuMatmulCudaFixture cuda) => _cuda = cuda;

    private static readonly (int M, int N, int K, int Pad)[] Shapes =
    {
        (1, 1, 1, 0), (17, 9, 5, 1), (130, 140, 37, 2), (257, 129, 100, 0), (300, 520, 264, 4), (256, 384, 512, 0),
    };

    [CudaFact]
    public void All_kinds_and_layouts_match_reference_on_cuda()
    {
        var acc = _cuda.Accelerator!;
        var mm = _cuda.Matmul!;
        bool ampereOrNewer = ((CudaAccelerator)acc).Architecture is { } arch && arch >= CudaArchitecture.SM_80;
        mm.UsesTensorCores.Should().Be(ampereOrNewer, "mma.sync bf16 needs sm_80 or newer");
        int seed = 100;
        foreach (var (m, n, k, pad) in Shapes)
            foreach (var kind in new[] { MatmulKind.F32, MatmulKind.F32Bf16, MatmulKind.Bf16 })
                foreach (var (ta, tb) in Transposes())
                    foreach (bool accumulate in new[] { false, true })
                    {
                        var t = new MatmulCase(m, n, k, ta, tb, accumulate, pad);
                        bool tensorCores = kind == MatmulKind.Bf16 && mm.UsesTensorCores && !ta && tb;
                        double tol = tensorCores || k > 512 ? 1e-4 : 1e-5;
                        Run(acc, mm, kind, t, seed++).Should().BeLessThanOrEqualTo(tol, $"{kind} {t}");
                    }
    }

    // The PTX-builder GEMM (fragments in registers): k and padded leading dimensions multiples of 8, ragged m and n,
    // several k steps, one k step, accumulate; poisoned C (NaN) outside what it must write is checked by Run.
    [CudaFact]
    public void Ptx_bf16_gemm_matches_reference_on_cuda()
    {
        int seed = 500;
        foreach (var (m, n, k, pad) in new[] { (1, 1, 8, 0), (17, 9, 40, 8), (130, 140, 64, 0), (257, 129, 136, 8), (300, 520, 264, 0), (256, 384, 4096, 0) })
            foreach (bool accumulate in new[] { false, true })
            {
                var t = new MatmulCase(m, n, k, TransA: false, TransB: true, accumulate, pad);
                Run(_cuda.Accelerator!, _cuda.Matmul!, MatmulKind.Bf16Ptx, t, seed++).Should().BeLessThanOrEqualTo(1e-4, $"PTX GEMM {t}");
            }
    }

    [CudaFact]
    public void Gemv_bf16_matches_reference_on_cuda()
    {
        int seed = 300;
        foreach (var (n, k, pad) in new[] { (4096, 4096, 0), (1000, 777, 3), (33, 64, 0) })
            foreach (bool accumulate in new[] { false, true })
            {
                var t = new MatmulCase(1, n, k, TransA: false, TransB: true, accumulate, pad);
                Run(_cuda.Accelerator!, _cuda.Matmul!, MatmulKind.F32Bf16, t, seed++)
                    .Should().BeLessThanOrEqualTo(1e-4, $"GEMV {t}");
            }
    }
}
