using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PureLlama.Kernels.Gpu;

/// <summary>
/// Dense GEMM on an ILGPU accelerator, row-major with leading dimensions (the GPU form of the
/// CPU <c>Gemm</c> contract): C[m,n] (=|+=) op(A)[m,k]·op(B)[k,n], op(X) = X or Xᵀ where
/// "trans" means X is stored transposed (A as [k,m], B as [n,k]). Accumulation is f32.
/// Kernels are compiled once, in the constructor. Launches are asynchronous on the given stream.
/// </summary>
/// <remarks>
/// Routing: F32 and F32Bf16 use the shared-memory tiled kernel (<see cref="GpuTiledMatmul"/>);
/// F32Bf16 with m = 1 and B a weight [n,k] uses a bandwidth-bound GEMV. Bf16 uses the
/// tensor-core kernel (<see cref="GpuTensorCoreMatmul"/>, mma.sync m16n8k16) on CUDA for
/// A [m,k] and B [n,k] (transA = false, transB = true), and the tiled kernel otherwise.
/// Index arithmetic is 32-bit: every operand must hold fewer than 2³¹ elements.
/// </remarks>
public sealed partial class GpuMatmul : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, GemmShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> _f32;
    private readonly Action<AcceleratorStream, KernelConfig, GemmShape, ArrayView<float>, ArrayView<ushort>, ArrayView<float>> _f32Bf16;
    private readonly Action<AcceleratorStream, KernelConfig, GemmShape, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>> _bf16Tiled;
    private readonly Action<AcceleratorStream, KernelConfig, GemmShape, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>? _bf16TensorCore;
    private readonly Action<AcceleratorStream, KernelConfig, GemmShape, ArrayView<float>, ArrayView<ushort>, ArrayView<float>> _gemvBf16;
    private bool _disposed;

    /// <summary>Compiles and loads the matmul kernels for <paramref name="accelerator"/>.</summary>
    /// <exception cref="InvalidOperationException">A kernel failed to compile; the message names it.</exception>
    public GpuMatmul(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _accelerator = accelerator;
        _f32 = Load("GpuTiledMatmul<f32,f32>", () => accelerator.LoadKernel<GemmShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            GpuTiledMatmul.Kernel<float, float, F32Widen, F32Widen>));
        _f32Bf16 = Load("GpuTiledMatmul<f32,bf16>", () => accelerator.LoadKernel<GemmShape, ArrayView<float>, ArrayView<ushort>, ArrayView<float>>(
            GpuTiledMatmul.Kernel<float, ushort, F32Widen, Bf16Widen>));
        _bf16Tiled = Load("GpuTiledMatmul<bf16,bf16>", () => accelerator.LoadKernel<GemmShape, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>(
            GpuTiledMatmul.Kernel<ushort, ushort, Bf16Widen, Bf16Widen>));
        _gemvBf16 = Load("GpuGemvBf16", () => accelerator.LoadKernel<GemmShape, ArrayView<float>, ArrayView<ushort>, ArrayView<float>>(
            GpuGemvBf16.Kernel));
        if (accelerator.AcceleratorType == AcceleratorType.Cuda
            && accelerator is CudaAccelerator cuda
            && cuda.Architecture is { } arch && arch >= CudaArchitecture.SM_80)
        {
            _bf16TensorCore = Load("GpuTensorCoreMatmul", () => accelerator.LoadKernel<GemmShape, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>(
                GpuTensorCoreMatmul.Kernel));
        }
    }

    /// <summary>True when <see cref="Bf16"/> runs on tensor cores (CUDA, sm_80 or newer).</summary>
    public bool UsesTensorCores => _bf16TensorCore is not null;

    /// <summary>C[m,n] (=|+=) op(A)·op(B), all f32.</summary>
    public void F32(AcceleratorStream stream, int m, int n, int k, ArrayView<float> a, int lda, bool transA,
        ArrayView<float> b, int ldb, bool transB, ArrayView<float> c, int ldc, bool accumulate)
    {
        var shape = Validate(stream, m, n, k, a.Length, lda, transA, b.Length, ldb, transB, c.Length, ldc, accumulate);
        _f32(stream, TiledConfig(m, n), shape, a, b, c);
    }

    /// <summary>C[m,n] (=|+=) op(A)·op(B), A f32, B bf16 (ushort bits), f32 accumulate.</summary>
    public void F32Bf16(AcceleratorStream stream, int m, int n, int k, ArrayView<float> a, int lda, bool transA,
        ArrayView<ushort> b, int ldb, bool transB, ArrayView<float> c, int ldc, bool accumulate)
    {
        var shape = Validate(stream, m, n, k, a.Length, lda, transA, b.Length, ldb, transB, c.Length, ldc, accumulate);
        if (m == 1 && transB)
        {
            shape.Vectorized = GpuGemvBf16.CanVectorize(b, ldb, k) ? 1 : 0;
            _gemvBf16(stream, GpuGemvBf16.Config(n, _accelerator.WarpSize), shape, a, b, c);
            return;
        }
        _f32Bf16(stream, TiledConfig(m, n), shape, a, b, c);
    }

    /// <summary>C[m,n] (=|+=) op(A)·op(B), A and B bf16 (ushort bits), f32 accumulate.</summary>
    public void Bf16(AcceleratorStream stream, int m, int n, int k, ArrayView<ushort> a, int lda, bool transA,
        ArrayView<ushort> b, int ldb, bool transB, ArrayView<float> c, int ldc, bool accumulate)
    {
        var shape = Validate(stream, m, n, k, a.Length, lda, transA, b.Length, ldb, transB, c.Length, ldc, accumulate);
        if (_bf16TensorCore is not null && !transA && transB)
        {
            if (PreferPtxGemm && PtxGemmTakes(m, n, k, a, lda, b, ldb))
            {
                Bf16Ptx(stream, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
                return;
            }
            shape.Vectorized = GpuTensorCoreMatmul.CanVectorize(a, lda, b, ldb, k) ? 1 : 0;
            _bf16TensorCore(stream, GpuTensorCoreMatmul.Config(m, n), shape, a, b, c);
            return;
        }
        _bf16Tiled(stream, TiledConfig(m, n), shape, a, b, c);
    }

    /// <summary>
    /// The tensor-core kernel's tiling run without tensor cores (the mma emulated per thread
    /// from shared memory): lets tests check its loads, bounds and stores on the CPU accelerator.
    /// Only A [m,k], B [n,k]. Not for production use.
    /// </summary>
    internal void Bf16TensorCoreLayout(AcceleratorStream stream, int m, int n, int k, ArrayView<ushort> a, int lda,
        ArrayView<ushort> b, int ldb, ArrayView<float> c, int ldc, bool accumulate)
    {
        var shape = Validate(stream, m, n, k, a.Length, lda, false, b.Length, ldb, true, c.Length, ldc, accumulate);
        shape.Vectorized = GpuTensorCoreMatmul.CanVectorize(a, lda, b, ldb, k) ? 1 : 0;
        var kernel = _bf16TensorCore ?? Load("GpuTensorCoreMatmul", () => _accelerator.LoadKernel<GemmShape, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>(
            GpuTensorCoreMatmul.Kernel));
        kernel(stream, GpuTensorCoreMatmul.Config(m, n), shape, a, b, c);
    }

    private static KernelConfig TiledConfig(int m, int n) => new(
        new Index3D(CeilDiv(n, GpuTiledMatmul.TileN), CeilDiv(m, GpuTiledMatmul.TileM), 1),
        new Index3D(GpuTiledMatmul.Threads, 1, 1));

    /// <summary>Offset of a view's first element inside its buffer, in elements (for alignment checks).</summary>
    internal static long ElementOffset<T>(ArrayView<T> view) where T : unmanaged =>
        ((IContiguousArrayView)view).Index;

    internal static int CeilDiv(int x, int d) => (x + d - 1) / d;

    private GemmShape Validate(AcceleratorStream stream, int m, int n, int k,
        long aLength, int lda, bool transA, long bLength, int ldb, bool transB, long cLength, int ldc, bool accumulate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(stream);
        if (m < 1 || n < 1 || k < 1)
            throw new ArgumentException($"matmul shape must be positive: m={m}, n={n}, k={k}");
        CheckOperand("A", transA ? k : m, transA ? m : k, lda, aLength, transA ? "[k,m]" : "[m,k]");
        CheckOperand("B", transB ? n : k, transB ? k : n, ldb, bLength, transB ? "[n,k]" : "[k,n]");
        CheckOperand("C", m, n, ldc, cLength, "[m,n]");
        return new GemmShape
        {
            M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc,
            TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Accumulate = accumulate ? 1 : 0,
        };
    }

    private static void CheckOperand(string name, int rows, int cols, int ld, long length, string layout)
    {
        if (ld < cols)
            throw new ArgumentException($"matmul {name} stored {layout} = [{rows},{cols}] needs leading dimension ≥ {cols}, got {ld}");
        long needed = (long)(rows - 1) * ld + cols;
        if (needed > int.MaxValue)
            throw new ArgumentException($"matmul {name} spans {needed} elements; GPU matmul indexes with 32 bits (< 2^31)");
        if (length < needed)
            throw new ArgumentException($"matmul {name} stored {layout} = [{rows},{cols}] with leading dimension {ld} needs {needed} elements, view has {length}");
    }

    private static T Load<T>(string kernelName, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"GPU kernel {kernelName} failed to compile or load: {ex.Message}", ex);
        }
    }

    /// <summary>Releases nothing the accelerator does not own; kernels are freed with it.</summary>
    public void Dispose()
    {
        _disposed = true;
        _bf16Ptx?.Dispose();
    }
}
