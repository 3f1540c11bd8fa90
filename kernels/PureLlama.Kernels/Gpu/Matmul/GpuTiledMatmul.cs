using System.Runtime.CompilerServices;
using ILGPU;

namespace PureLlama.Kernels.Gpu;

/*
 * Shared-memory tiled, register-blocked GEMM with f32 accumulation; runs on every ILGPU
 * accelerator (CUDA and the CPU simulator).
 *
 *   C[m,n] (=|+=) Σ_k op(A)[m,k] · op(B)[k,n]      op(X) = X or Xᵀ, any M, N, K ≥ 1
 *
 * Tiling. One group of 256 threads (16×16) owns a 128×128 block of C. The K dimension is
 * walked in steps of 16: op(A)[128×16] and op(B)[16×128] are copied into shared memory,
 * k-major (As[k][m], Bs[k][n], row stride 132 floats to spread banks), out of range elements
 * as 0, double-buffered: each thread fetches its 8 + 8 elements of step k+1 into registers,
 * computes step k from one buffer, then stores them into the other (one barrier per step,
 * 2 × 2 × 16 × 132 × 4 B = 33 KB). Thread (tx, ty) accumulates an 8×8 block in registers:
 *
 *            n0 + tx + 16·j   (j = 0..7)
 *          ┌──────────────────────────────┐
 *   m0 +   │ ·  .  .  .  ·  .  .  .       │   rows ty + 16·i (i = 0..7)
 *   ty+16i │ strided by 16 so that the 16 │   each k: 8 loads As[k][ty+16i]
 *          │ threads of a half-warp touch │           8 loads Bs[k][tx+16j]
 *          │ 16 consecutive words         │           64 FMAs into acc_i.V_j
 *          └──────────────────────────────┘
 *
 * Arithmetic intensity per thread and k: 16 shared loads for 64 FMAs. The 8×8 block is
 * hand-unrolled through Vec8 (ILGPU 1.5.3 does not unroll loops). Elements are read through
 * an IWiden struct, so the same source serves f32·f32, f32·bf16 and bf16·bf16 operands; B goes
 * through an IGemmOperandB (Run), so a packed weight can be dequantized on load (Gpu/Quantized).
 * Results are written only where row < M and col < N; padding of C (ldc > N) is never touched.
 */
internal static class GpuTiledMatmul
{
    public const int TileM = 128;
    public const int TileN = 128;
    public const int TileK = 16;
    public const int Threads = 256;
    private const int Stride = 132; // shared row stride (floats): 128 + 4 of padding

    [GpuKernel(typeof(float), typeof(float), typeof(F32Widen), typeof(F32Widen))]
    [GpuKernel(typeof(float), typeof(ushort), typeof(F32Widen), typeof(Bf16Widen))]
    [GpuKernel(typeof(ushort), typeof(ushort), typeof(Bf16Widen), typeof(Bf16Widen))]
    public static void Kernel<TA, TB, WA, WB>(GemmShape p, ArrayView<TA> a, ArrayView<TB> b, ArrayView<float> c)
        where TA : unmanaged
        where TB : unmanaged
        where WA : struct, IWiden<TA>
        where WB : struct, IWiden<TB> =>
        Run<TA, WA, DenseOperandB<TB, WB>>(p, a, new DenseOperandB<TB, WB> { View = b }, c);

    /// <summary>
    /// The kernel body over any B operand (a dense view, or a quantized weight dequantized on load:
    /// Gpu/Quantized). Inlined into each entry point, which owns the shared memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TA, WA, TOpB>(GemmShape p, ArrayView<TA> a, TOpB b, ArrayView<float> c)
        where TA : unmanaged
        where WA : struct, IWiden<TA>
        where TOpB : struct, IGemmOperandB
    {
        var tileA = SharedMemory.Allocate<float>(2 * TileK * Stride); // As[buf][k][m]
        var tileB = SharedMemory.Allocate<float>(2 * TileK * Stride); // Bs[buf][k][n]
        int tid = Group.IdxX;
        int tx = tid & 15;
        int ty = tid >> 4;
        int m0 = Grid.IdxY * TileM;
        int n0 = Grid.IdxX * TileN;
        int slotA = 1 - p.TransA, slotB = p.TransB;

        Vec8 c0 = default, c1 = default, c2 = default, c3 = default;
        Vec8 c4 = default, c5 = default, c6 = default, c7 = default;

        // Copy: 128×16 = 2048 elements per operand, 8 per thread, coalesced along the operand's
        // contiguous dimension. The next step's elements are fetched into registers before the
        // current step's FMAs and stored to the other shared buffer after them.
        Vec8 pa = LoadA8<TA, WA>(p, a, m0, 0, tid);
        Vec8 pb = LoadB8(p, b, n0, 0, tid);
        Store8(tileA, 0, slotA, tid, pa);
        Store8(tileB, 0, slotB, tid, pb);
        Group.Barrier();

        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            int cur = ((k0 / TileK) & 1) * TileK * Stride;
            bool more = k0 + TileK < p.K;
            if (more)
            {
                pa = LoadA8<TA, WA>(p, a, m0, k0 + TileK, tid);
                pb = LoadB8(p, b, n0, k0 + TileK, tid);
            }

            for (int kk = 0; kk < TileK; kk++)
            {
                Vec8 av = Vec8.Load(tileA, cur + kk * Stride + ty, 16);
                Vec8 bv = Vec8.Load(tileB, cur + kk * Stride + tx, 16);
                c0 = Vec8.Fma(c0, av.V0, bv);
                c1 = Vec8.Fma(c1, av.V1, bv);
                c2 = Vec8.Fma(c2, av.V2, bv);
                c3 = Vec8.Fma(c3, av.V3, bv);
                c4 = Vec8.Fma(c4, av.V4, bv);
                c5 = Vec8.Fma(c5, av.V5, bv);
                c6 = Vec8.Fma(c6, av.V6, bv);
                c7 = Vec8.Fma(c7, av.V7, bv);
            }

            if (more)
            {
                int next = TileK * Stride - cur;
                Store8(tileA, next, slotA, tid, pa);
                Store8(tileB, next, slotB, tid, pb);
            }
            Group.Barrier();
        }

        int col = n0 + tx;
        StoreRow(p, c, m0 + ty, col, c0);
        StoreRow(p, c, m0 + ty + 16, col, c1);
        StoreRow(p, c, m0 + ty + 32, col, c2);
        StoreRow(p, c, m0 + ty + 48, col, c3);
        StoreRow(p, c, m0 + ty + 64, col, c4);
        StoreRow(p, c, m0 + ty + 80, col, c5);
        StoreRow(p, c, m0 + ty + 96, col, c6);
        StoreRow(p, c, m0 + ty + 112, col, c7);
    }

    /// <summary>
    /// Shared-memory slot (k-major) of copy index idx. kContiguous = 1 when the operand is
    /// stored with k contiguous (A as [M,K], B as [N,K]): idx then walks 16 k per row;
    /// otherwise idx walks the 128-wide dimension fastest.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(int idx, int kContiguous) =>
        kContiguous != 0
            ? (idx & (TileK - 1)) * Stride + (idx >> 4)
            : (idx >> 7) * Stride + (idx & (TileM - 1));

    /// <summary>This thread's 8 elements (copy indices tid + 256·e) of op(A)'s 128×16 tile at k0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec8 LoadA8<TA, WA>(GemmShape p, ArrayView<TA> a, int m0, int k0, int tid)
        where TA : unmanaged
        where WA : struct, IWiden<TA>
    {
        Vec8 v;
        v.V0 = LoadA<TA, WA>(p, a, m0, k0, tid);
        v.V1 = LoadA<TA, WA>(p, a, m0, k0, tid + Threads);
        v.V2 = LoadA<TA, WA>(p, a, m0, k0, tid + 2 * Threads);
        v.V3 = LoadA<TA, WA>(p, a, m0, k0, tid + 3 * Threads);
        v.V4 = LoadA<TA, WA>(p, a, m0, k0, tid + 4 * Threads);
        v.V5 = LoadA<TA, WA>(p, a, m0, k0, tid + 5 * Threads);
        v.V6 = LoadA<TA, WA>(p, a, m0, k0, tid + 6 * Threads);
        v.V7 = LoadA<TA, WA>(p, a, m0, k0, tid + 7 * Threads);
        return v;
    }

    /// <summary>This thread's 8 elements (copy indices tid + 256·e) of op(B)'s 16×128 tile at k0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vec8 LoadB8<TOpB>(GemmShape p, TOpB b, int n0, int k0, int tid)
        where TOpB : struct, IGemmOperandB
    {
        Vec8 v;
        v.V0 = LoadB(p, b, n0, k0, tid);
        v.V1 = LoadB(p, b, n0, k0, tid + Threads);
        v.V2 = LoadB(p, b, n0, k0, tid + 2 * Threads);
        v.V3 = LoadB(p, b, n0, k0, tid + 3 * Threads);
        v.V4 = LoadB(p, b, n0, k0, tid + 4 * Threads);
        v.V5 = LoadB(p, b, n0, k0, tid + 5 * Threads);
        v.V6 = LoadB(p, b, n0, k0, tid + 6 * Threads);
        v.V7 = LoadB(p, b, n0, k0, tid + 7 * Threads);
        return v;
    }

    /// <summary>Writes 8 prefetched elements to their k-major slots of shared buffer buf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store8(ArrayView<float> tile, int buf, int kContiguous, int tid, Vec8 v)
    {
        tile[buf + Slot(tid, kContiguous)] = v.V0;
        tile[buf + Slot(tid + Threads, kContiguous)] = v.V1;
        tile[buf + Slot(tid + 2 * Threads, kContiguous)] = v.V2;
        tile[buf + Slot(tid + 3 * Threads, kContiguous)] = v.V3;
        tile[buf + Slot(tid + 4 * Threads, kContiguous)] = v.V4;
        tile[buf + Slot(tid + 5 * Threads, kContiguous)] = v.V5;
        tile[buf + Slot(tid + 6 * Threads, kContiguous)] = v.V6;
        tile[buf + Slot(tid + 7 * Threads, kContiguous)] = v.V7;
    }

    /// <summary>op(A)[m0 + i, k0 + kk] for copy index idx, 0 outside the matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadA<TA, WA>(GemmShape p, ArrayView<TA> a, int m0, int k0, int idx)
        where TA : unmanaged
        where WA : struct, IWiden<TA>
    {
        int i, kk;
        if (p.TransA == 0) { kk = idx & (TileK - 1); i = idx >> 4; }   // A[m,k]: k contiguous
        else { i = idx & (TileM - 1); kk = idx >> 7; }                  // A[k,m]: m contiguous
        int row = m0 + i, k = k0 + kk;
        if (row >= p.M || k >= p.K) return 0f;
        int offset = p.TransA == 0 ? row * p.Lda + k : k * p.Lda + row;
        return default(WA).Widen(a[offset]);
    }

    /// <summary>op(B)[k0 + kk, n0 + j] for copy index idx, 0 outside the matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadB<TOpB>(GemmShape p, TOpB b, int n0, int k0, int idx)
        where TOpB : struct, IGemmOperandB
    {
        int j, kk;
        if (p.TransB != 0) { kk = idx & (TileK - 1); j = idx >> 4; }   // B[n,k]: k contiguous
        else { j = idx & (TileN - 1); kk = idx >> 7; }                  // B[k,n]: n contiguous
        int col = n0 + j, k = k0 + kk;
        if (col >= p.N || k >= p.K) return 0f;
        return b.Load(p, k, col);
    }

    /// <summary>Writes C[row, col + 16·j] for j = 0..7 where inside M×N.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(GemmShape p, ArrayView<float> c, int row, int col, Vec8 v)
    {
        if (row >= p.M) return;
        int baseIdx = row * p.Ldc;
        Store(p, c, baseIdx, col, v.V0);
        Store(p, c, baseIdx, col + 16, v.V1);
        Store(p, c, baseIdx, col + 32, v.V2);
        Store(p, c, baseIdx, col + 48, v.V3);
        Store(p, c, baseIdx, col + 64, v.V4);
        Store(p, c, baseIdx, col + 80, v.V5);
        Store(p, c, baseIdx, col + 96, v.V6);
        Store(p, c, baseIdx, col + 112, v.V7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(GemmShape p, ArrayView<float> c, int rowBase, int col, float value)
    {
        if (col >= p.N) return;
        int idx = rowBase + col;
        c[idx] = p.Accumulate != 0 ? c[idx] + value : value;
    }
}
