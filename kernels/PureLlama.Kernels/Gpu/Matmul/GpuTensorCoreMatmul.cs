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
 * Block tile 128×128, K step 32, 128 threads = 4 warps in a 2 × 2 grid; each warp owns 64×64 of
 * C = 4 (m) × 8 (n) mma tiles of 16×8, i.e. 128 f32 accumulators per thread:
 *
 *              n 0..63            n 64..127
 *   m  0..63   [warp 0: 4×8 mma]  [warp 1: 4×8 mma]
 *   m 64..127  [warp 2: 4×8 mma]  [warp 3: 4×8 mma]
 *
 * Per k16 slice a warp loads 4 A fragments (16 regs) and 8 B fragments (16 regs) from shared
 * memory with 16 eight-byte loads and issues 32 independent mma.
 *
 * Shared memory holds both operand tiles k-contiguous, as uint pairs of bf16 (low half = lower
 * k), row stride 24 uints, double-buffered: 2 × (128 + 128) × 24 × 4 B = 48 KB. Inside each
 * 8-uint k16 slice pair u sits at slot 2·(u % 4) + u / 4, so the pairs t and t + 4 a thread needs
 * for one fragment register pair are adjacent (one 8-byte load); with the 24-uint stride the 16
 * lanes of a half-warp (8 rows g × 4 pairs t) hit distinct banks. Each K step every thread
 * prefetches its share of the next A and B tiles into registers (8 + 8 loads of 4 bf16 when
 * rows are 8-byte aligned, unchecked inside the matrix, else per-element with bounds), computes
 * the two k16 slices of the current buffer, then writes the prefetched registers to the other
 * buffer: one barrier per K step.
 *
 * Fragments (PTX ISA, m16n8k16 .bf16; g = lane / 4, t = lane % 4; pairs along k):
 *   A 16×16 : a0 = A[g][2t..2t+1]   a1 = A[g+8][2t..]   a2 = A[g][2t+8..]   a3 = A[g+8][2t+8..]
 *   B 16×8  : b0 = B[k=2t..2t+1][n=g]                    b1 = B[k=2t+8..2t+9][n=g]
 *   C 16×8  : c0,c1 = C[g][2t, 2t+1]                     c2,c3 = C[g+8][2t, 2t+1]
 * so (a0|a2), (a1|a3) and (b0|b1) are each one 8-byte load at slot 2t of the slice in row g,
 * g + 8, or B row (column) g.
 *
 * Without CUDA (ILGPU's CPU accelerator) the mma is emulated per thread from the same shared
 * tiles, so tests can check the tiling, the ragged edges and the epilogue of this kernel.
 */
internal static class GpuTensorCoreMatmul
{
    public const int TileM = 128;
    public const int TileN = 128;
    public const int TileK = 32;
    public const int Threads = 128;
    private const int RowUints = 24;                 // 16 uints of data + 8 of padding
    private const int TileUints = TileM * RowUints;  // one operand tile, one buffer

    public static KernelConfig Config(int m, int n) => new(
        new Index3D(GpuMatmul.CeilDiv(n, TileN), GpuMatmul.CeilDiv(m, TileM), 1),
        new Index3D(Threads, 1, 1));

    /// <summary>8-byte loads are valid when every row start and the k extent are multiples of 4 elements.</summary>
    public static bool CanVectorize(ArrayView<ushort> a, int lda, ArrayView<ushort> b, int ldb, int k) =>
        k % 4 == 0 && lda % 4 == 0 && ldb % 4 == 0
        && GpuMatmul.ElementOffset(a) % 4 == 0 && GpuMatmul.ElementOffset(b) % 4 == 0;

    [GpuKernel]
    public static void Kernel(GemmShape p, ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c)
    {
        var sA = SharedMemory.Allocate<uint>(2 * TileUints);
        var sB = SharedMemory.Allocate<uint>(2 * TileUints);
        int tid = Group.IdxX;
        int warp = tid >> 5, lane = tid & 31;
        int g = lane >> 2, t = lane & 3;
        int m0 = Grid.IdxY * TileM, n0 = Grid.IdxX * TileN;
        int warpRow = (warp >> 1) * 64;   // within the block tile
        int warpCol = (warp & 1) * 64;
        // Whole block inside the matrices with aligned rows: loads need no bounds checks.
        bool interior = p.Vectorized != 0 && m0 + TileM <= p.M && n0 + TileN <= p.N && p.K % TileK == 0;

        var a64 = a.Cast<ulong>();
        var b64 = b.Cast<ulong>();
        var sA64 = sA.Cast<ulong>();   // fragment pairs are read 8 bytes at a time
        var sB64 = sB.Cast<ulong>();

        AccRow r0 = default, r1 = default, r2 = default, r3 = default;

        int numK = (p.K + TileK - 1) / TileK;
        Prefetch pa = LoadTile(p, a, a64, p.Lda, p.M, m0, 0, tid, interior);
        Prefetch pb = LoadTile(p, b, b64, p.Ldb, p.N, n0, 0, tid, interior);
        StoreTile(sA, 0, pa, tid);
        StoreTile(sB, 0, pb, tid);
        Group.Barrier();

        for (int kt = 0; kt < numK; kt++)
        {
            int cur = (kt & 1) * TileUints;
            bool more = kt + 1 < numK;
            if (more)
            {
                pa = LoadTile(p, a, a64, p.Lda, p.M, m0, (kt + 1) * TileK, tid, interior);
                pb = LoadTile(p, b, b64, p.Ldb, p.N, n0, (kt + 1) * TileK, tid, interior);
            }

            int aRow = cur + (warpRow + g) * RowUints;      // this thread's A row g
            int bRow = cur + (warpCol + g) * RowUints;      // this thread's B column g
            int bEmu = cur + (warpCol + 2 * t) * RowUints;  // emulation: output column 2t
            Slice(sA, sB, sA64, sB64, aRow, bRow, bEmu, t, ref r0, ref r1, ref r2, ref r3);          // k 0..15
            Slice(sA, sB, sA64, sB64, aRow + 8, bRow + 8, bEmu + 8, t, ref r0, ref r1, ref r2, ref r3); // k 16..31

            if (more)
            {
                int next = TileUints - cur;
                StoreTile(sA, next, pa, tid);
                StoreTile(sB, next, pb, tid);
            }
            Group.Barrier();
        }

        int row = m0 + warpRow + g, col = n0 + warpCol + 2 * t;
        StoreRow(p, c, row, col, r0);
        StoreRow(p, c, row + 16, col, r1);
        StoreRow(p, c, row + 32, col, r2);
        StoreRow(p, c, row + 48, col, r3);
    }

    /// <summary>One m16n8k16 tile accumulator: c0,c1 on row g, c2,c3 on row g+8.</summary>
    private struct Acc4 { public float C0, C1, C2, C3; }

    /// <summary>A warp's 16-row strip of accumulators: 8 tiles of 16×8 side by side (64 columns).</summary>
    private struct AccRow { public Acc4 N0, N1, N2, N3, N4, N5, N6, N7; }

    /// <summary>A fragment: 4 registers of 2 bf16.</summary>
    private struct AFrag { public uint A0, A1, A2, A3; }

    /// <summary>The 8 B fragments (2 registers of 2 bf16 each) of a warp's 64 columns.</summary>
    private struct BFrags
    {
        public uint B00, B01, B10, B11, B20, B21, B30, B31, B40, B41, B50, B51, B60, B61, B70, B71;
    }

    /// <summary>A thread's share of one operand tile (128 rows × 32 k): 8 chunks of 4 bf16.</summary>
    private struct Prefetch { public ulong Q0, Q1, Q2, Q3, Q4, Q5, Q6, Q7; }

    /// <summary>
    /// One k16 slice for the warp: 4 A fragments × 8 B fragments = 32 mma. aRow/bRow are the
    /// slice start of this thread's rows (g); the fragment words add pair t. bEmu is the slice
    /// start of output column 2t, used by the emulation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Slice(ArrayView<uint> sA, ArrayView<uint> sB, ArrayView<ulong> sA64, ArrayView<ulong> sB64,
        int aRow, int bRow, int bEmu, int t, ref AccRow r0, ref AccRow r1, ref AccRow r2, ref AccRow r3)
    {
        if (CudaAsm.IsSupported)
        {
            // Thread t's pair (t, t+4) of a slice sits at slots 2t, 2t+1: one 8-byte load.
            BFrags bf = LoadB(sB64, (bRow + 2 * t) >> 1);
            int ai = (aRow + 2 * t) >> 1;
            MmaRow(ref r0, LoadA(sA64, ai), bf);
            MmaRow(ref r1, LoadA(sA64, ai + 8 * RowUints), bf);
            MmaRow(ref r2, LoadA(sA64, ai + 16 * RowUints), bf);
            MmaRow(ref r3, LoadA(sA64, ai + 24 * RowUints), bf);
        }
        else
        {
            EmulateRow(ref r0, sA, aRow, sB, bEmu);
            EmulateRow(ref r1, sA, aRow + 16 * RowUints, sB, bEmu);
            EmulateRow(ref r2, sA, aRow + 32 * RowUints, sB, bEmu);
            EmulateRow(ref r3, sA, aRow + 48 * RowUints, sB, bEmu);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static AFrag LoadA(ArrayView<ulong> s, int i)
    {
        ulong top = s[i], bottom = s[i + 4 * RowUints]; // rows g and g + 8 (ulong index)
        AFrag f;
        f.A0 = (uint)top;
        f.A2 = (uint)(top >> 32);
        f.A1 = (uint)bottom;
        f.A3 = (uint)(bottom >> 32);
        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static BFrags LoadB(ArrayView<ulong> s, int i)
    {
        const int T = 4 * RowUints; // next 8 columns, in ulongs
        BFrags f;
        ulong q;
        q = s[i]; f.B00 = (uint)q; f.B01 = (uint)(q >> 32);
        q = s[i + T]; f.B10 = (uint)q; f.B11 = (uint)(q >> 32);
        q = s[i + 2 * T]; f.B20 = (uint)q; f.B21 = (uint)(q >> 32);
        q = s[i + 3 * T]; f.B30 = (uint)q; f.B31 = (uint)(q >> 32);
        q = s[i + 4 * T]; f.B40 = (uint)q; f.B41 = (uint)(q >> 32);
        q = s[i + 5 * T]; f.B50 = (uint)q; f.B51 = (uint)(q >> 32);
        q = s[i + 6 * T]; f.B60 = (uint)q; f.B61 = (uint)(q >> 32);
        q = s[i + 7 * T]; f.B70 = (uint)q; f.B71 = (uint)(q >> 32);
        return f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MmaRow(ref AccRow r, AFrag a, BFrags b)
    {
        Mma(ref r.N0, a, b.B00, b.B01);
        Mma(ref r.N1, a, b.B10, b.B11);
        Mma(ref r.N2, a, b.B20, b.B21);
        Mma(ref r.N3, a, b.B30, b.B31);
        Mma(ref r.N4, a, b.B40, b.B41);
        Mma(ref r.N5, a, b.B50, b.B51);
        Mma(ref r.N6, a, b.B60, b.B61);
        Mma(ref r.N7, a, b.B70, b.B71);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mma(ref Acc4 d, AFrag a, uint b0, uint b1)
    {
        Ref<float> d0 = d.C0, d1 = d.C1, d2 = d.C2, d3 = d.C3;
        Input<uint> a0 = a.A0, a1 = a.A1, a2 = a.A2, a3 = a.A3, x0 = b0, x1 = b1;
        CudaAsm.EmitRef(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref x0, ref x1);
        d.C0 = d0.Value; d.C1 = d1.Value; d.C2 = d2.Value; d.C3 = d3.Value;
    }

    /// <summary>
    /// What the 8 mma of one strip compute for this thread's outputs, read straight from shared
    /// memory: rows aRow and aRow + 8 (offsets of the k-slice start), columns bCol + 8·j, +1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EmulateRow(ref AccRow r, ArrayView<uint> sA, int aRow, ArrayView<uint> sB, int bCol)
    {
        const int T = 8 * RowUints;
        r.N0 = Emulate(r.N0, sA, aRow, sB, bCol);
        r.N1 = Emulate(r.N1, sA, aRow, sB, bCol + T);
        r.N2 = Emulate(r.N2, sA, aRow, sB, bCol + 2 * T);
        r.N3 = Emulate(r.N3, sA, aRow, sB, bCol + 3 * T);
        r.N4 = Emulate(r.N4, sA, aRow, sB, bCol + 4 * T);
        r.N5 = Emulate(r.N5, sA, aRow, sB, bCol + 5 * T);
        r.N6 = Emulate(r.N6, sA, aRow, sB, bCol + 6 * T);
        r.N7 = Emulate(r.N7, sA, aRow, sB, bCol + 7 * T);
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // keeps the CPU-only path small to compile
    private static Acc4 Emulate(Acc4 d, ArrayView<uint> sA, int aRow, ArrayView<uint> sB, int bCol)
    {
        // By value, not by ref: a reference to the accumulators would pin them in local memory.
        d.C0 += Dot16(sA, aRow, sB, bCol);
        d.C1 += Dot16(sA, aRow, sB, bCol + RowUints);
        d.C2 += Dot16(sA, aRow + 8 * RowUints, sB, bCol);
        d.C3 += Dot16(sA, aRow + 8 * RowUints, sB, bCol + RowUints);
        return d;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // keeps the CPU-only path small to compile
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
    /// Reads this thread's 8 chunks (4 bf16 each) of rows [r0, r0+128) × k [k0, k0+32) of a
    /// k-contiguous operand; chunk idx = tid + 128·e covers row idx/8, k (idx%8)·4. Zero outside.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Prefetch LoadTile(GemmShape p, ArrayView<ushort> x, ArrayView<ulong> x64, int ld, int rows,
        int r0, int k0, int tid, bool interior)
    {
        int r = r0 + (tid >> 3), k = k0 + (tid & 7) * 4;
        Prefetch f;
        if (interior)
        {
            int q = (r * ld + k) >> 2, step = 16 * ld >> 2; // 16 rows further, in ulongs
            f.Q0 = x64[q];
            f.Q1 = x64[q + step];
            f.Q2 = x64[q + 2 * step];
            f.Q3 = x64[q + 3 * step];
            f.Q4 = x64[q + 4 * step];
            f.Q5 = x64[q + 5 * step];
            f.Q6 = x64[q + 6 * step];
            f.Q7 = x64[q + 7 * step];
        }
        else
        {
            f.Q0 = LoadChunk(p, x, x64, ld, rows, r, k);
            f.Q1 = LoadChunk(p, x, x64, ld, rows, r + 16, k);
            f.Q2 = LoadChunk(p, x, x64, ld, rows, r + 32, k);
            f.Q3 = LoadChunk(p, x, x64, ld, rows, r + 48, k);
            f.Q4 = LoadChunk(p, x, x64, ld, rows, r + 64, k);
            f.Q5 = LoadChunk(p, x, x64, ld, rows, r + 80, k);
            f.Q6 = LoadChunk(p, x, x64, ld, rows, r + 96, k);
            f.Q7 = LoadChunk(p, x, x64, ld, rows, r + 112, k);
        }
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

    /// <summary>
    /// Writes the prefetched chunks to shared memory. Chunk c of a row holds uint pairs 2c, 2c+1
    /// (k 4c..4c+3); inside each 8-uint k16 slice, pair u is stored at slot 2·(u%4) + u/4 so a
    /// fragment's pairs t and t+4 are adjacent.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTile(ArrayView<uint> s, int buffer, Prefetch f, int tid)
    {
        const int R = 16 * RowUints;
        int c = tid & 7;
        int u0 = 2 * (c & 3), u1 = u0 + 1;
        int slice = (c >> 2) * 8;
        int lo = slice + 2 * (u0 & 3) + (u0 >> 2);
        int hi = slice + 2 * (u1 & 3) + (u1 >> 2);
        int i = buffer + (tid >> 3) * RowUints;
        StoreChunk(s, i, lo, hi, f.Q0);
        StoreChunk(s, i + R, lo, hi, f.Q1);
        StoreChunk(s, i + 2 * R, lo, hi, f.Q2);
        StoreChunk(s, i + 3 * R, lo, hi, f.Q3);
        StoreChunk(s, i + 4 * R, lo, hi, f.Q4);
        StoreChunk(s, i + 5 * R, lo, hi, f.Q5);
        StoreChunk(s, i + 6 * R, lo, hi, f.Q6);
        StoreChunk(s, i + 7 * R, lo, hi, f.Q7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreChunk(ArrayView<uint> s, int row, int lo, int hi, ulong q)
    {
        s[row + lo] = (uint)q;
        s[row + hi] = (uint)(q >> 32);
    }

    /// <summary>Writes a strip of eight 16×8 accumulators (columns col + 8·j) of rows row, row + 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(GemmShape p, ArrayView<float> c, int row, int col, AccRow r)
    {
        StoreAcc(p, c, row, col, r.N0);
        StoreAcc(p, c, row, col + 8, r.N1);
        StoreAcc(p, c, row, col + 16, r.N2);
        StoreAcc(p, c, row, col + 24, r.N3);
        StoreAcc(p, c, row, col + 32, r.N4);
        StoreAcc(p, c, row, col + 40, r.N5);
        StoreAcc(p, c, row, col + 48, r.N6);
        StoreAcc(p, c, row, col + 56, r.N7);
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
