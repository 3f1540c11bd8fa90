using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using static PureLlama.Kernels.Gpu.TensorCoreMatmulKernel;

namespace PureLlama.Kernels.Gpu;

/*
 * Tensor-core GEMM with an asynchronous 3-stage copy pipeline (sm_80+): the fast path of
 * GpuMatmul.Bf16 when rows are 16-byte aligned (lda, ldb, K multiples of 8).
 *
 *   C[m,n] (=|+=) Σ_k A[m,k] · B[n,k]        A row-major [M,K], B a weight [N,K], bf16, f32 accumulate
 *
 * Same block/warp tiling as TensorCoreMatmulKernel (128×128 block, 4 warps of 64×64, 32 mma per
 * k16 slice) but operands go global → shared with cp.async (16 bytes per instruction, no
 * register staging, out-of-range chunks zero-filled via src-size 0) into a ring of 3 stages of
 * K = 32, and fragments come out of shared memory with ldmatrix.x4 (one instruction = one A
 * fragment, or the B fragments of two n8 tiles):
 *
 *   iteration kt:  wait for tile kt (cp.async.wait_group 1) · barrier · 64 mma on stage kt%3
 *                  · issue tile kt+2 into stage (kt+2)%3 (the one every warp finished at kt−1)
 *
 * Shared layout per stage and operand: 128 rows × 32 bf16 = 64 bytes per row, no padding; the
 * four 16-byte chunks of row r are stored at chunk c ^ ((r/2) % 4), so the 8 row addresses of
 * one ldmatrix matrix (8 rows, same chunk) hit 8 distinct 16-byte bank groups and the 8 threads
 * writing two rows cover 128 contiguous bytes. 3 stages × 2 operands × 8 KB = 48 KB.
 *
 * ldmatrix.x4 lane addresses (l = lane): A: row l%16, chunk 2s + l/16 → a0 a1 a2 a3 of m16k16;
 * B: column-row (l%8) + 8·(l/16), chunk 2s + (l/8)%2 → b0 b1 of n-tile j, b0 b1 of n-tile j+1.
 *
 * cp.async and ldmatrix are inline PTX that names the shared buffers as ILGPU emits them
 * (__shared_alloca0 = A, __shared_alloca1 = B: the allocation order below) and takes device
 * addresses as plain 64-bit integers (ILGPU 1.5.3 offers no other route to them). On ILGPU's
 * CPU accelerator the copies are plain loads and the mma is emulated, so tests check the
 * pipeline, the swizzle and the edges there.
 */
internal static class TensorCoreAsyncMatmulKernel
{
    public const int TileM = 128;
    public const int TileN = 128;
    public const int TileK = 32;
    public const int Stages = 3;
    public const int Threads = 128;
    private const int StageElems = TileM * TileK;   // bf16 elements of one operand tile
    private const int StageBytes = StageElems * 2;

    public static KernelConfig Config(int m, int n) => new(
        new Index3D(GpuMatmul.CeilDiv(n, TileN), GpuMatmul.CeilDiv(m, TileM), 1),
        new Index3D(Threads, 1, 1));

    /// <summary>cp.async copies 16 bytes: every row start must be 16-byte aligned and K a multiple of 8.</summary>
    public static bool CanUse(ArrayView<ushort> a, int lda, ArrayView<ushort> b, int ldb, int k) =>
        k % 8 == 0 && lda % 8 == 0 && ldb % 8 == 0
        && GpuMatmul.ElementOffset(a) % 8 == 0 && GpuMatmul.ElementOffset(b) % 8 == 0;

    /// <summary>Device address of a view's first element (for cp.async).</summary>
    public static long Address(ArrayView<ushort> view) =>
        ((IArrayView)view).Buffer.NativePtr.ToInt64() + GpuMatmul.ElementOffset(view) * sizeof(ushort);

    public static void Kernel(GemmShape p, ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c, long aAddress, long bAddress)
    {
        // One allocation (ILGPU names it __shared_alloca0) so it starts the shared window, 16-byte
        // aligned as cp.async and ldmatrix need: A stages, then B stages.
        var shared = SharedMemory.Allocate<ushort>(2 * Stages * StageElems);
        var sA = shared.SubView(0, Stages * StageElems);
        var sB = shared.SubView(Stages * StageElems, Stages * StageElems);
        int tid = Group.IdxX;
        int warp = tid >> 5, lane = tid & 31;
        int m0 = Grid.IdxY * TileM, n0 = Grid.IdxX * TileN;
        int warpRow = (warp >> 1) * 64;
        int warpCol = (warp & 1) * 64;

        uint baseA = 0, baseB = 0;
        if (CudaAsm.IsSupported)
        {
            Output<uint> x = default;
            CudaAsm.EmitRef("mov.u32 %0, __shared_alloca0;", ref x);
            baseA = x.Value;
            baseB = baseA + Stages * StageBytes;
        }

        AccRow r0 = default, r1 = default, r2 = default, r3 = default;
        int numK = (p.K + TileK - 1) / TileK;
        for (int s = 0; s < Stages - 1; s++)
        {
            if (s < numK) IssueTiles(p, a, b, sA, sB, baseA, baseB, aAddress, bAddress, m0, n0, s, s * TileK, tid);
            Commit();
        }

        for (int kt = 0; kt < numK; kt++)
        {
            WaitAllButNewest();
            Group.Barrier();
            int stage = kt % Stages;
            Slice(sA, sB, baseA, baseB, stage, 0, warpRow, warpCol, lane, ref r0, ref r1, ref r2, ref r3); // k 0..15
            Slice(sA, sB, baseA, baseB, stage, 1, warpRow, warpCol, lane, ref r0, ref r1, ref r2, ref r3); // k 16..31
            int next = kt + Stages - 1;
            if (next < numK) IssueTiles(p, a, b, sA, sB, baseA, baseB, aAddress, bAddress, m0, n0, next % Stages, next * TileK, tid);
            Commit();
        }

        int row = m0 + warpRow + (lane >> 2), col = n0 + warpCol + 2 * (lane & 3);
        StoreRow(p, c, row, col, r0);
        StoreRow(p, c, row + 16, col, r1);
        StoreRow(p, c, row + 32, col, r2);
        StoreRow(p, c, row + 48, col, r3);
    }

    /// <summary>One k16 slice of a stage for the warp: 4 A fragments × 8 B fragments = 32 mma.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Slice(ArrayView<ushort> sA, ArrayView<ushort> sB, uint baseA, uint baseB, int stage, int slice,
        int warpRow, int warpCol, int lane, ref AccRow r0, ref AccRow r1, ref AccRow r2, ref AccRow r3)
    {
        if (CudaAsm.IsSupported)
        {
            uint aStage = baseA + (uint)(stage * StageBytes), bStage = baseB + (uint)(stage * StageBytes);
            BFrags bf = LoadB(bStage, warpCol, slice, lane);
            MmaRow(ref r0, LoadA(aStage, warpRow, slice, lane), bf);
            MmaRow(ref r1, LoadA(aStage, warpRow + 16, slice, lane), bf);
            MmaRow(ref r2, LoadA(aStage, warpRow + 32, slice, lane), bf);
            MmaRow(ref r3, LoadA(aStage, warpRow + 48, slice, lane), bf);
        }
        else
        {
            int g = lane >> 2, t = lane & 3, st = stage * StageElems;
            EmulateRow(ref r0, sA, sB, st, warpRow + g, warpCol + 2 * t, slice);
            EmulateRow(ref r1, sA, sB, st, warpRow + 16 + g, warpCol + 2 * t, slice);
            EmulateRow(ref r2, sA, sB, st, warpRow + 32 + g, warpCol + 2 * t, slice);
            EmulateRow(ref r3, sA, sB, st, warpRow + 48 + g, warpCol + 2 * t, slice);
        }
    }

    /// <summary>Element offset inside one stage of the 8-element chunk c of tile row r (swizzled).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Swizzle(int r, int chunk) => r * TileK + ((chunk ^ ((r >> 1) & 3)) << 3);

    /// <summary>
    /// Starts the copy of A rows [m0, m0+128) and B rows [n0, n0+128), k [k0, k0+32), into
    /// stage s: 512 chunks of 16 bytes per operand, 4 per thread (chunk idx = tid + 128·e:
    /// row idx/4, k 8·(idx%4)). Chunks outside the matrices are zero-filled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void IssueTiles(GemmShape p, ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<ushort> sA, ArrayView<ushort> sB,
        uint baseA, uint baseB, long aAddress, long bAddress, int m0, int n0, int s, int k0, int tid)
    {
        int r = tid >> 2, chunk = tid & 3, k = k0 + chunk * 8;
        // Rows r, r+32, r+64, r+96: the swizzle term (row/2) % 4 is the same for all four.
        int dst = s * StageElems + Swizzle(r, chunk);
        const int R = 32 * TileK;
        CopyChunk(p, a, sA, baseA, aAddress, p.Lda, p.M, m0 + r, k, dst);
        CopyChunk(p, a, sA, baseA, aAddress, p.Lda, p.M, m0 + r + 32, k, dst + R);
        CopyChunk(p, a, sA, baseA, aAddress, p.Lda, p.M, m0 + r + 64, k, dst + 2 * R);
        CopyChunk(p, a, sA, baseA, aAddress, p.Lda, p.M, m0 + r + 96, k, dst + 3 * R);
        CopyChunk(p, b, sB, baseB, bAddress, p.Ldb, p.N, n0 + r, k, dst);
        CopyChunk(p, b, sB, baseB, bAddress, p.Ldb, p.N, n0 + r + 32, k, dst + R);
        CopyChunk(p, b, sB, baseB, bAddress, p.Ldb, p.N, n0 + r + 64, k, dst + 2 * R);
        CopyChunk(p, b, sB, baseB, bAddress, p.Ldb, p.N, n0 + r + 96, k, dst + 3 * R);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyChunk(GemmShape p, ArrayView<ushort> x, ArrayView<ushort> s, uint sBase, long address,
        int ld, int rows, int row, int k, int dst)
    {
        bool valid = row < rows && k < p.K;
        int offset = valid ? row * ld + k : 0;
        if (CudaAsm.IsSupported)
        {
            uint dstAddress = sBase + (uint)(dst * 2);
            long src = address + (long)offset * 2;
            uint srcSize = valid ? 16u : 0u;
            CudaAsm.Emit("cp.async.cg.shared.global [%0], [%1], 16, %2;", dstAddress, src, srcSize);
        }
        else
        {
            for (int j = 0; j < 8; j++) s[dst + j] = valid ? x[offset + j] : (ushort)0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Commit()
    {
        if (CudaAsm.IsSupported) CudaAsm.Emit("cp.async.commit_group;");
    }

    /// <summary>Waits until at most one copy group (the newest) is still in flight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WaitAllButNewest()
    {
        if (CudaAsm.IsSupported) CudaAsm.Emit("cp.async.wait_group 1;");
    }

    /// <summary>A fragment (16 rows from row0, k16 slice) with one ldmatrix.x4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static AFrag LoadA(uint stageBase, int row0, int slice, int lane)
    {
        int r = row0 + (lane & 15), chunk = 2 * slice + (lane >> 4);
        Quad q = Ldmatrix(stageBase + (uint)(Swizzle(r, chunk) * 2));
        AFrag f;
        f.A0 = q.X0; f.A1 = q.X1; f.A2 = q.X2; f.A3 = q.X3;
        return f;
    }

    /// <summary>B fragments of the warp's 8 n-tiles (64 columns from col0, k16 slice): 4 ldmatrix.x4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static BFrags LoadB(uint stageBase, int col0, int slice, int lane)
    {
        int r = col0 + (lane & 7) + ((lane >> 4) << 3), chunk = 2 * slice + ((lane >> 3) & 1);
        uint addr = stageBase + (uint)(Swizzle(r, chunk) * 2);
        const uint Next16 = 16 * TileK * 2; // 16 rows further, bytes (swizzle depends on r/2 % 4: unchanged)
        Quad q0 = Ldmatrix(addr), q1 = Ldmatrix(addr + Next16), q2 = Ldmatrix(addr + 2 * Next16), q3 = Ldmatrix(addr + 3 * Next16);
        BFrags f;
        f.B00 = q0.X0; f.B01 = q0.X1; f.B10 = q0.X2; f.B11 = q0.X3;
        f.B20 = q1.X0; f.B21 = q1.X1; f.B30 = q1.X2; f.B31 = q1.X3;
        f.B40 = q2.X0; f.B41 = q2.X1; f.B50 = q2.X2; f.B51 = q2.X3;
        f.B60 = q3.X0; f.B61 = q3.X1; f.B70 = q3.X2; f.B71 = q3.X3;
        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Quad Ldmatrix(uint address)
    {
        Output<uint> o0 = default, o1 = default, o2 = default, o3 = default;
        Input<uint> addr = address;
        CudaAsm.EmitRef("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];", ref o0, ref o1, ref o2, ref o3, ref addr);
        Quad q;
        q.X0 = o0.Value; q.X1 = o1.Value; q.X2 = o2.Value; q.X3 = o3.Value;
        return q;
    }

    /// <summary>The four registers one ldmatrix.x4 returns.</summary>
    private struct Quad { public uint X0, X1, X2, X3; }

    /// <summary>CPU path: the 8 mma of one strip for this thread's outputs (rows row, row+8; columns col+8j, +1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EmulateRow(ref AccRow r, ArrayView<ushort> sA, ArrayView<ushort> sB, int stage, int row, int col, int slice)
    {
        r.N0 = Emulate(r.N0, sA, sB, stage, row, col, slice);
        r.N1 = Emulate(r.N1, sA, sB, stage, row, col + 8, slice);
        r.N2 = Emulate(r.N2, sA, sB, stage, row, col + 16, slice);
        r.N3 = Emulate(r.N3, sA, sB, stage, row, col + 24, slice);
        r.N4 = Emulate(r.N4, sA, sB, stage, row, col + 32, slice);
        r.N5 = Emulate(r.N5, sA, sB, stage, row, col + 40, slice);
        r.N6 = Emulate(r.N6, sA, sB, stage, row, col + 48, slice);
        r.N7 = Emulate(r.N7, sA, sB, stage, row, col + 56, slice);
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // by value, not inlined: keeps the CPU-only path small
    private static Acc4 Emulate(Acc4 d, ArrayView<ushort> sA, ArrayView<ushort> sB, int stage, int row, int col, int slice)
    {
        d.C0 += Dot(sA, sB, stage, row, col, slice);
        d.C1 += Dot(sA, sB, stage, row, col + 1, slice);
        d.C2 += Dot(sA, sB, stage, row + 8, col, slice);
        d.C3 += Dot(sA, sB, stage, row + 8, col + 1, slice);
        return d;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Dot(ArrayView<ushort> sA, ArrayView<ushort> sB, int stage, int row, int col, int slice)
    {
        float sum = 0f;
        for (int kk = 0; kk < 16; kk++)
        {
            int chunk = 2 * slice + (kk >> 3), j = kk & 7;
            float x = Interop.IntAsFloat((uint)sA[stage + Swizzle(row, chunk) + j] << 16);
            float y = Interop.IntAsFloat((uint)sB[stage + Swizzle(col, chunk) + j] << 16);
            sum += x * y;
        }
        return sum;
    }
}
