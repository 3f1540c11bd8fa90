using System.Runtime.CompilerServices;
using ILGPU;

// The kernel tests reach internal kernels; ILGPU's CPU accelerator emits a dynamic assembly
// named "ILGPURuntime" that must see the internal parameter structs of kernels.
[assembly: InternalsVisibleTo("PureLlama.Kernels.Tests")]
[assembly: InternalsVisibleTo("ILGPURuntime")]

namespace PureLlama.Kernels.Gpu;

// Small value types shared by the GPU matmul kernels: the launch parameters and the
// element "wideners" that let one tiled kernel read f32 or bf16 operands.

/// <summary>
/// Shape and layout of one GEMM launch: C[M,N] (=|+=) op(A)[M,K]·op(B)[K,N], row-major
/// with leading dimensions. Flags are ints (0/1) so the struct is plain data on every backend.
/// </summary>
internal struct GemmShape
{
    public int M, N, K;
    public int Lda, Ldb, Ldc;
    /// <summary>1: A is stored [K,M] (op(A) = Aᵀ); 0: A is stored [M,K].</summary>
    public int TransA;
    /// <summary>1: B is stored [N,K] (a Linear weight); 0: B is stored [K,N].</summary>
    public int TransB;
    /// <summary>1: C += product; 0: C = product (C is never read).</summary>
    public int Accumulate;
    /// <summary>Tensor-core kernel only: 1 when A and B rows may be read 4 bf16 (8 bytes) at a time.</summary>
    public int Vectorized;
}

/// <summary>Reads one stored element as f32 inside a kernel.</summary>
internal interface IWiden<T> where T : unmanaged
{
    float Widen(T value);
}

/// <summary>f32 storage: identity.</summary>
internal readonly struct F32Widen : IWiden<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Widen(float value) => value;
}

/// <summary>bf16 storage (ushort bits): exact widening, the bits shifted into the high half.</summary>
internal readonly struct Bf16Widen : IWiden<ushort>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Widen(ushort value) => Interop.IntAsFloat((uint)value << 16);
}

/// <summary>
/// op(B)[k, n] of a tiled GEMM as f32, for (k, n) inside K×N. p.TransB says which index is contiguous
/// in memory (1: stored [N,K], k contiguous), so the tile copy stays coalesced for any source.
/// </summary>
internal interface IGemmOperandB
{
    float Load(GemmShape p, int k, int n);
}

/// <summary>A dense B view (f32 or bf16 through <typeparamref name="WB"/>) with leading dimension p.Ldb.</summary>
internal struct DenseOperandB<TB, WB> : IGemmOperandB
    where TB : unmanaged
    where WB : struct, IWiden<TB>
{
    public ArrayView<TB> View;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Load(GemmShape p, int k, int n) =>
        default(WB).Widen(View[p.TransB != 0 ? n * p.Ldb + k : k * p.Ldb + n]);
}

/// <summary>Eight f32 values held in registers (one row or column of a thread's 8×8 block).</summary>
internal struct Vec8
{
    public float V0, V1, V2, V3, V4, V5, V6, V7;

    /// <summary>c + a·b, element-wise over b (a is a broadcast scalar). Hand-unrolled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec8 Fma(Vec8 c, float a, Vec8 b)
    {
        c.V0 += a * b.V0; c.V1 += a * b.V1; c.V2 += a * b.V2; c.V3 += a * b.V3;
        c.V4 += a * b.V4; c.V5 += a * b.V5; c.V6 += a * b.V6; c.V7 += a * b.V7;
        return c;
    }

    /// <summary>Gathers view[start + i·stride] for i = 0..7 (a shared-memory read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec8 Load(ArrayView<float> view, int start, int stride)
    {
        Vec8 r;
        r.V0 = view[start];
        r.V1 = view[start + stride];
        r.V2 = view[start + 2 * stride];
        r.V3 = view[start + 3 * stride];
        r.V4 = view[start + 4 * stride];
        r.V5 = view[start + 5 * stride];
        r.V6 = view[start + 6 * stride];
        r.V7 = view[start + 7 * stride];
        return r;
    }
}
