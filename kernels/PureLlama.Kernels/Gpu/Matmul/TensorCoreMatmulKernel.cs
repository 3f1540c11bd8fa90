using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PureLlama.Kernels.Gpu;

/*
 * Tensor-core GEMM, bf16 operands, f32 accumulation, through inline PTX
 * mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (sm_80+, HMMA.16816.F32.BF16 on sm_90).
 *
 *   C[m,n] (=|+=) Σ_k A[m,k] · B[n,k]        A row-major [M,K], B a weight [N,K]
 *
 * Block tile 128×128, K step 32, 256 threads = 8 warps in a 2 (m) × 4 (n) grid; each warp owns
 * 64×32 of C = 4 × 4 mma tiles of 16×8, i.e. 64 f32 accumulators per thread:
 *
 *          n →  warp 0   warp 1   warp 2   warp 3      (32 columns each)
 *   m  0..63   [4×4 mma][4×4 mma][4×4 mma][4×4 mma]
 *   m 64..127  [ warp 4][ warp 5][ warp 6][ warp 7]
 *
 * Shared memory holds both operand tiles k-contiguous, as uint pairs of bf16 (low half = lower
 * k), row stride 20 uints (16 + 4 padding: the 8 rows × 4 pairs a fragment load touches fall in
 * 32 distinct banks), double-buffered: 2 × (128 + 128) × 20 × 4 B = 40 KB. Each K step, every
 * thread prefetches the next A and B tiles into registers (4 + 4 loads of 4 bf16 when rows are
 * 8-byte aligned, else per-element loads), computes two k16 slices from shared memory, then
 * writes the prefetched registers to the other buffer: one barrier per K step.
 *
 * Fragments (PTX ISA, m16n8k16 .bf16; g = lane / 4, t = lane % 4; pairs along k):
 *   A 16×16 : a0 = A[g][2t..2t+1]   a1 = A[g+8][2t..]   a2 = A[g][2t+8..]   a3 = A[g+8][2t+8..]
 *   B 16×8  : b0 = B[k=2t..2t+1][n=g]                    b1 = B[k=2t+8..2t+9][n=g]
 *   C 16×8  : c0,c1 = C[g][2t, 2t+1]                     c2,c3 = C[g+8][2t, 2t+1]
 * so every fragment register is one 32-bit shared load: As[row][k/2 + t] or As[row][k/2 + 4 + t].
 *
 * Without CUDA (ILGPU's CPU accelerator) the mma is emulated per thread from the same shared
 * tiles, so tests can check the tiling, the ragged edges and the epilogue of this kernel.
 */
internal static class TensorCoreMatmulKernel
{
    public const int TileM = 128;
    public const int TileN = 128;
    public const int TileK = 32;
    public const int Threads = 256;
    private const int RowUints = 20;                 // 16 uints of data + 4 of padding
    private const int TileUints = TileM * RowUints;  // one operand tile, one buffer

    public static KernelConfig Config(int m, int n) => new(
        new Index3D(GpuMatmul.CeilDiv(n, TileN), GpuMatmul.CeilDiv(m, TileM), 1),
        new Index3D(Threads, 1, 1));

    /// <summary>8-byte loads are valid when every row start and the k extent are multiples of 4 elements.</summary>
    public static bool CanVectorize(ArrayView<ushort> a, int lda, ArrayView<ushort> b, int ldb, int k) =>
        k % 4 == 0 && lda % 4 == 0 && ldb % 4 == 0 && GpuMatmul.ElementOffset(a) % 4 == 0 && GpuMatmul.ElementOffset(b) % 4 == 0;

    public static void Kernel(GemmShape p, ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c)
    {
        var sA = SharedMemory.Allocate<uint>(2 * TileUints);
        var sB = SharedMemory.Allocate<uint>(2 * TileUints);
        int tid = Group.IdxX;
        int warp = tid >> 5, lane = tid & 31;
        int g = lane >> 2, t = lane & 3;
        int m0 = Grid.IdxY * TileM, n0 = Grid.IdxX * TileN;
        int warpRow = (warp >> 2) * 64;   // within the block tile
        int warpCol = (warp & 3) * 32;

        var a64 = a.Cast<ulong>();
        var b64 = b.Cast<ulong>();

        Acc4 c00 = default, c01 = default, c02 = default, c03 = default;
        Acc4 c10 = default, c11 = default, c12 = default, c13 = default;
        Acc4 c20 = default, c21 = default, c22 = default, c23 = default;
        Acc4 c30 = default, c31 = default, c32 = default, c33 = default;

        int numK = (p.K + TileK - 1) / TileK;
        Prefetch pa = LoadTile(p, a, a64, p.Lda, p.M, m0, 0, tid);
        Prefetch pb = LoadTile(p, b, b64, p.Ldb, p.N, n0, 0, tid);
        StoreTile(sA, 0, pa, tid);
        StoreTile(sB, 0, pb, tid);
        Group.Barrier();

        for (int kt = 0; kt < numK; kt++)
        {
            int cur = (kt & 1) * TileUints;
            bool more = kt + 1 < numK;
            if (more)
            {
                pa = LoadTile(p, a, a64, p.Lda, p.M, m0, (kt + 1) * TileK, tid);
                pb = LoadTile(p, b, b64, p.Ldb, p.N, n0, (kt + 1) * TileK, tid);
            }

            for (int kk = 0; kk < TileK / 2; kk += 8) // two k16 slices, kk in uint units
            {
                int aBase = cur + (warpRow + g) * RowUints + kk + t;
                int bBase = cur + (warpCol + g) * RowUints + kk + t;
                AFrag a0 = LoadA(sA, aBase);
                AFrag a1 = LoadA(sA, aBase + 16 * RowUints);
                AFrag a2 = LoadA(sA, aBase + 32 * RowUints);
                AFrag a3 = LoadA(sA, aBase + 48 * RowUints);
                BFrag b0 = LoadB(sB, bBase);
                BFrag b1 = LoadB(sB, bBase + 8 * RowUints);
                BFrag b2 = LoadB(sB, bBase + 16 * RowUints);
                BFrag b3 = LoadB(sB, bBase + 24 * RowUints);
                if (CudaAsm.IsSupported)
                {
                    Mma(ref c00, a0, b0); Mma(ref c01, a0, b1); Mma(ref c02, a0, b2); Mma(ref c03, a0, b3);
                    Mma(ref c10, a1, b0); Mma(ref c11, a1, b1); Mma(ref c12, a1, b2); Mma(ref c13, a1, b3);
                    Mma(ref c20, a2, b0); Mma(ref c21, a2, b1); Mma(ref c22, a2, b2); Mma(ref c23, a2, b3);
                    Mma(ref c30, a3, b0); Mma(ref c31, a3, b1); Mma(ref c32, a3, b2); Mma(ref c33, a3, b3);
                }
                else
                {
                    int ar = cur + (warpRow + g) * RowUints + kk, br = cur + (warpCol + 2 * t) * RowUints + kk;
                    Emulate(ref c00, sA, ar, sB, br); Emulate(ref c01, sA, ar, sB, br + 8 * RowUints);
                    Emulate(ref c02, sA, ar, sB, br + 16 * RowUints); Emulate(ref c03, sA, ar, sB, br + 24 * RowUints);
                    ar += 16 * RowUints;
                    Emulate(ref c10, sA, ar, sB, br); Emulate(ref c11, sA, ar, sB, br + 8 * RowUints);
                    Emulate(ref c12, sA, ar, sB, br + 16 * RowUints); Emulate(ref c13, sA, ar, sB, br + 24 * RowUints);
                    ar += 16 * RowUints;
                    Emulate(ref c20, sA, ar, sB, br); Emulate(ref c21, sA, ar, sB, br + 8 * RowUints);
                    Emulate(ref c22, sA, ar, sB, br + 16 * RowUints); Emulate(ref c23, sA, ar, sB, br + 24 * RowUints);
                    ar += 16 * RowUints;
                    Emulate(ref c30, sA, ar, sB, br); Emulate(ref c31, sA, ar, sB, br + 8 * RowUints);
                    Emulate(ref c32, sA, ar, sB, br + 16 * RowUints); Emulate(ref c33, sA, ar, sB, br + 24 * RowUints);
                }
            }

            if (more)
            {
                int next = TileUints - cur;
                StoreTile(sA, next, pa, tid);
                StoreTile(sB, next, pb, tid);
            }
            Group.Barrier();
        }

        int row = m0 + warpRow + g, col = n0 + warpCol + 2 * t;
        StoreRowOfTiles(p, c, row, col, c00, c01, c02, c03);
        StoreRowOfTiles(p, c, row + 16, col, c10, c11, c12, c13);
        StoreRowOfTiles(p, c, row + 32, col, c20, c21, c22, c23);
        StoreRowOfTiles(p, c, row + 48, col, c30, c31, c32, c33);
    }

    /// <summary>One m16n8k16 tile accumulator: c0,c1 on row g, c2,c3 on row g+8.</summary>
    private struct Acc4 { public float C0, C1, C2, C3; }

    /// <summary>A fragment: 4 registers of 2 bf16.</summary>
    private struct AFrag { public uint A0, A1, A2, A3; }

    /// <summary>B fragment: 2 registers of 2 bf16.</summary>
    private struct BFrag { public uint B0, B1; }

    /// <summary>A thread's share of one operand tile (128 rows × 32 k): 4 chunks of 4 bf16.</summary>
    private struct Prefetch { public ulong Q0, Q1, Q2, Q3; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static AFrag LoadA(ArrayView<uint> s, int i)
    {
        AFrag f;
        f.A0 = s[i];
        f.A1 = s[i + 8 * RowUints];
        f.A2 = s[i + 4];
        f.A3 = s[i + 8 * RowUints + 4];
        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static BFrag LoadB(ArrayView<uint> s, int i)
    {
        BFrag f;
        f.B0 = s[i];
        f.B1 = s[i + 4];
        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mma(ref Acc4 d, AFrag a, BFrag b)
    {
        Ref<float> d0 = d.C0, d1 = d.C1, d2 = d.C2, d3 = d.C3;
        Input<uint> a0 = a.A0, a1 = a.A1, a2 = a.A2, a3 = a.A3, b0 = b.B0, b1 = b.B1;
        CudaAsm.EmitRef(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
        d.C0 = d0.Value; d.C1 = d1.Value; d.C2 = d2.Value; d.C3 = d3.Value;
    }

    /// <summary>
    /// What the mma computes for this thread's four outputs, read straight from shared memory:
    /// rows aRow and aRow + 8 (uint offset of k-slice start), columns bCol and bCol + 1.
    /// </summary>
    private static void Emulate(ref Acc4 d, ArrayView<uint> sA, int aRow, ArrayView<uint> sB, int bCol)
    {
        d.C0 += Dot16(sA, aRow, sB, bCol);
        d.C1 += Dot16(sA, aRow, sB, bCol + RowUints);
        d.C2 += Dot16(sA, aRow + 8 * RowUints, sB, bCol);
        d.C3 += Dot16(sA, aRow + 8 * RowUints, sB, bCol + RowUints);
    }

    private static float Dot16(ArrayView<uint> sA, int ai, ArrayView<uint> sB, int bi)
    {
        float sum = 0f;
        for (int j = 0; j < 8; j++)
        {
            uint x = sA[ai + j], y = sB[bi + j];
            sum += Interop.IntAsFloat(x << 16) * Interop.IntAsFloat(y << 16);
            sum += Interop.IntAsFloat(x & 0xFFFF0000u) * Interop.IntAsFloat(y & 0xFFFF0000u);
        }
        return sum;
    }

    /// <summary>
    /// Reads this thread's 4 chunks (4 bf16 each) of rows [r0, r0+128) × k [k0, k0+32) of a
    /// k-contiguous operand; chunk idx = tid + 256·e covers row idx/8, k (idx%8)·4. Zero outside.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Prefetch LoadTile(GemmShape p, ArrayView<ushort> x, ArrayView<ulong> x64, int ld, int rows, int r0, int k0, int tid)
    {
        Prefetch f;
        f.Q0 = LoadChunk(p, x, x64, ld, rows, r0 + (tid >> 3), k0 + (tid & 7) * 4);
        f.Q1 = LoadChunk(p, x, x64, ld, rows, r0 + 32 + (tid >> 3), k0 + (tid & 7) * 4);
        f.Q2 = LoadChunk(p, x, x64, ld, rows, r0 + 64 + (tid >> 3), k0 + (tid & 7) * 4);
        f.Q3 = LoadChunk(p, x, x64, ld, rows, r0 + 96 + (tid >> 3), k0 + (tid & 7) * 4);
        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong LoadChunk(GemmShape p, ArrayView<ushort> x, ArrayView<ulong> x64, int ld, int rows, int r, int k)
    {
        if (r >= rows || k >= p.K) return 0ul;
        int offset = r * ld + k;
        if (p.Vectorized != 0) return x64[offset >> 2];
        ulong v = x[offset];
        if (k + 1 < p.K) v |= (ulong)x[offset + 1] << 16;
        if (k + 2 < p.K) v |= (ulong)x[offset + 2] << 32;
        if (k + 3 < p.K) v |= (ulong)x[offset + 3] << 48;
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile(ArrayView<uint> s, int buffer, Prefetch f, int tid)
    {
        int i = buffer + (tid >> 3) * RowUints + (tid & 7) * 2;
        StoreChunk(s, i, f.Q0);
        StoreChunk(s, i + 32 * RowUints, f.Q1);
        StoreChunk(s, i + 64 * RowUints, f.Q2);
        StoreChunk(s, i + 96 * RowUints, f.Q3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreChunk(ArrayView<uint> s, int i, ulong q)
    {
        s[i] = (uint)q;
        s[i + 1] = (uint)(q >> 32);
    }

    /// <summary>Writes four 16×8 accumulators side by side (columns col + 8·j) of rows row, row + 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRowOfTiles(GemmShape p, ArrayView<float> c, int row, int col, Acc4 x0, Acc4 x1, Acc4 x2, Acc4 x3)
    {
        StoreAcc(p, c, row, col, x0);
        StoreAcc(p, c, row, col + 8, x1);
        StoreAcc(p, c, row, col + 16, x2);
        StoreAcc(p, c, row, col + 24, x3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreAcc(GemmShape p, ArrayView<float> c, int row, int col, Acc4 x)
    {
        Store(p, c, row, col, x.C0);
        Store(p, c, row, col + 1, x.C1);
        Store(p, c, row + 8, col, x.C2);
        Store(p, c, row + 8, col + 1, x.C3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(GemmShape p, ArrayView<float> c, int row, int col, float value)
    {
        if (row >= p.M || col >= p.N) return;
        int idx = row * p.Ldc + col;
        c[idx] = p.Accumulate != 0 ? c[idx] + value : value;
    }
}
