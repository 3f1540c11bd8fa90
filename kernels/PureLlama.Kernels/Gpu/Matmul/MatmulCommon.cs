using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;

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

/// <summary>Eight f32 values held in registers (one row or column of a thread's 8×8 block; a row of Tile4x8).</summary>
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

    /// <summary>Element <paramref name="u"/> (0..7); with a constant u the switch folds away after inlining.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Get(int u) => u switch { 0 => V0, 1 => V1, 2 => V2, 3 => V3, 4 => V4, 5 => V5, 6 => V6, _ => V7 };

    /// <summary>a·v, element-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec8 Scale(Vec8 v, float a)
    {
        v.V0 *= a; v.V1 *= a; v.V2 *= a; v.V3 *= a; v.V4 *= a; v.V5 *= a; v.V6 *= a; v.V7 *= a;
        return v;
    }

    /// <summary>e^(v − m), element-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec8 ExpMinus(Vec8 v, float m)
    {
        v.V0 = XMath.Exp(v.V0 - m); v.V1 = XMath.Exp(v.V1 - m); v.V2 = XMath.Exp(v.V2 - m); v.V3 = XMath.Exp(v.V3 - m);
        v.V4 = XMath.Exp(v.V4 - m); v.V5 = XMath.Exp(v.V5 - m); v.V6 = XMath.Exp(v.V6 - m); v.V7 = XMath.Exp(v.V7 - m);
        return v;
    }

    /// <summary>max(V0, …, V7), folded left to right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float Max() =>
        XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(XMath.Max(V0, V1), V2), V3), V4), V5), V6), V7);

    /// <summary>start + V0 + V1 + … + V7, added left to right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float SumOnto(float start) => start + V0 + V1 + V2 + V3 + V4 + V5 + V6 + V7;

    /// <summary>v where <paramref name="mask"/> keeps (row, col0 + u·colStep), <paramref name="otherwise"/> elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec8 Where<TMask>(Vec8 v, TMask mask, int row, int col0, int colStep, float otherwise)
        where TMask : struct, ITileMask
    {
        v.V0 = mask.Keep(row, col0) ? v.V0 : otherwise;
        v.V1 = mask.Keep(row, col0 + colStep) ? v.V1 : otherwise;
        v.V2 = mask.Keep(row, col0 + 2 * colStep) ? v.V2 : otherwise;
        v.V3 = mask.Keep(row, col0 + 3 * colStep) ? v.V3 : otherwise;
        v.V4 = mask.Keep(row, col0 + 4 * colStep) ? v.V4 : otherwise;
        v.V5 = mask.Keep(row, col0 + 5 * colStep) ? v.V5 : otherwise;
        v.V6 = mask.Keep(row, col0 + 6 * colStep) ? v.V6 : otherwise;
        v.V7 = mask.Keep(row, col0 + 7 * colStep) ? v.V7 : otherwise;
        return v;
    }

    /// <summary>Writes V_i·a to view[start + i·stride] for the i with col0 + i·stride &lt; end (a guarded row store).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void StoreScaled(ArrayView<float> view, long start, int col0, int stride, int end, float a)
    {
        if (col0 < end) view[start] = V0 * a;
        if (col0 + stride < end) view[start + stride] = V1 * a;
        if (col0 + 2 * stride < end) view[start + 2 * stride] = V2 * a;
        if (col0 + 3 * stride < end) view[start + 3 * stride] = V3 * a;
        if (col0 + 4 * stride < end) view[start + 4 * stride] = V4 * a;
        if (col0 + 5 * stride < end) view[start + 5 * stride] = V5 * a;
        if (col0 + 6 * stride < end) view[start + 6 * stride] = V6 * a;
        if (col0 + 7 * stride < end) view[start + 7 * stride] = V7 * a;
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
