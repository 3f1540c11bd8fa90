// Dense matrix multiply, GotoBLAS/BLIS blocking:
//
//   C[m, n] (=|+=) op(A)[m, k] · op(B)[k, n],   C[i, j] = Σ_p op(A)[i, p] · op(B)[p, j]
//
// Loops, outermost first (per thread, over its own block of C):
//   jc: NC columns of B/C   pc: KC of k → pack op(B)[pc.., jc..] (KC × NC, L3/L2)
//   ic: MC rows of A/C      → pack op(A)[ic.., pc..] (MC × KC, L2)
//   jr: NR columns          (one B micro-panel KC × NR stays in L1)
//   ir: MR rows             → micro-kernel: MR × NR accumulators in registers over kc.
// Edge tiles run the same micro-kernel into a small scratch tile (packing zero-pads the panels)
// and copy the valid part out, so the caller's data is never padded. The first k block stores,
// later ones (or accumulate) add. Threads split C into column (or, for narrow C, row) ranges,
// each with its own pack buffers: no synchronisation inside a call.
// Tiny m with a weight-shaped B (transB, B = W[n, k]) goes to SimdGemv.*Rows, which streams W once; so does any m
// inside a RowInvariance scope (batch-invariant serving).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PureLlama.Kernels.Simd;

/// <summary>Dense f32 (and f32 × bf16) matrix multiply on the CPU, multi-threaded SIMD.</summary>
public static unsafe class SimdGemm
{
    /// <summary>Rows of A at or below which a weight-shaped B (transB) goes to the GEMV path.</summary>
    internal const int GemvMaxRows = 4;

    /// <summary>
    /// C[m,n] = op(A)[m,k] · op(B)[k,n] (accumulate: C +=). op(A) = A (stored [m,k], lda ≥ k) or
    /// Aᵀ (transA: stored [k,m], lda ≥ m); likewise B with ldb. C is [m,n] with ldc ≥ n.
    /// </summary>
    public static void F32(int m, int n, int k, float* a, int lda, bool transA, float* b, int ldb, bool transB,
        float* c, int ldc, bool accumulate)
    {
        if (!Prologue(m, n, k, a, lda, transA, b != null, ldb, transB, c, ldc, accumulate)) return;
        if ((m <= GemvMaxRows || RowInvariance.IsActive) && transB) { SmallM(m, n, k, a, lda, transA, b, null, ldb, c, ldc, accumulate); return; }
        Run(m, n, k, a, lda, transA, b, null, ldb, transB, c, ldc, accumulate);
    }

    /// <summary>
    /// As <see cref="F32"/> with B stored as bf16 bits; B is widened to f32 while it is packed
    /// (never as a whole), arithmetic and accumulation are f32.
    /// </summary>
    public static void F32Bf16(int m, int n, int k, float* a, int lda, bool transA, ushort* b, int ldb, bool transB,
        float* c, int ldc, bool accumulate)
    {
        if (!Prologue(m, n, k, a, lda, transA, b != null, ldb, transB, c, ldc, accumulate)) return;
        if ((m <= GemvMaxRows || RowInvariance.IsActive) && transB) { SmallM(m, n, k, a, lda, transA, null, b, ldb, c, ldc, accumulate); return; }
        Run(m, n, k, a, lda, transA, null, b, ldb, transB, c, ldc, accumulate);
    }

    // Validates; handles the empty cases. Returns false when nothing is left to do.
    private static bool Prologue(int m, int n, int k, float* a, int lda, bool transA, bool hasB, int ldb, bool transB,
        float* c, int ldc, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (lda < Math.Max(1, transA ? m : k)) throw new ArgumentOutOfRangeException(nameof(lda), lda, $"lda must be at least {(transA ? "m" : "k")} = {(transA ? m : k)}.");
        if (ldb < Math.Max(1, transB ? k : n)) throw new ArgumentOutOfRangeException(nameof(ldb), ldb, $"ldb must be at least {(transB ? "k" : "n")} = {(transB ? k : n)}.");
        if (ldc < Math.Max(1, n)) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"ldc must be at least n = {n}.");
        if (m == 0 || n == 0) return false;
        if (c == null) throw new ArgumentNullException(nameof(c));
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return false;
        }
        if (a == null) throw new ArgumentNullException(nameof(a));
        if (!hasB) throw new ArgumentNullException("b");
        return true;
    }

    // m ≤ GemvMaxRows, B = W[n, k]: Y = X · Wᵀ with X the rows of op(A) (copied when A is transposed).
    private static void SmallM(int m, int n, int k, float* a, int lda, bool transA, float* bf, ushort* bh, int ldb,
        float* c, int ldc, bool accumulate)
    {
        float* x = a;
        int ldx = lda;
        if (transA)
        {
            x = (float*)NativeMemory.Alloc((nuint)m * (nuint)k, sizeof(float));
            for (int p = 0; p < k; p++)
                for (int i = 0; i < m; i++) x[(long)i * k + p] = a[(long)p * lda + i];
            ldx = k;
        }
        try
        {
            if (bf != null) SimdGemv.F32Rows(m, n, k, bf, ldb, x, ldx, c, ldc, accumulate);
            else SimdGemv.Bf16Rows(m, n, k, bh, ldb, x, ldx, c, ldc, accumulate);
        }
        finally
        {
            if (transA) NativeMemory.Free(x);
        }
    }

    // ------------------------------------------------------------------ blocked driver

    private readonly struct Problem
    {
        public readonly int M, N, K, Lda, Ldb, Ldc;
        public readonly nint A, Bf, Bh, C;
        public readonly bool TransA, TransB, Accumulate;
        public readonly GemmBlocking Blk;

        public Problem(int m, int n, int k, float* a, int lda, bool transA, float* bf, ushort* bh, int ldb, bool transB,
            float* c, int ldc, bool accumulate, GemmBlocking blk)
        {
            M = m; N = n; K = k; A = (nint)a; Lda = lda; TransA = transA; Bf = (nint)bf; Bh = (nint)bh; Ldb = ldb;
            TransB = transB; C = (nint)c; Ldc = ldc; Accumulate = accumulate; Blk = blk;
        }
    }

    private static void Run(int m, int n, int k, float* a, int lda, bool transA, float* bf, ushort* bh, int ldb, bool transB,
        float* c, int ldc, bool accumulate)
    {
        var blk = GemmBlocking.For(GemmIsa.Current, m, k);
        var pr = new Problem(m, n, k, a, lda, transA, bf, bh, ldb, transB, c, ldc, accumulate, blk);

        // Threads: split columns in NR units (B packed once in total), or rows when C is narrow.
        double flops = 2.0 * m * n * k;
        int threads = Math.Min(SimdThreading.MaxThreads, (int)Math.Max(1, flops / (1 << 21)));
        bool byCols = n >= threads * 2 * blk.Nr || n >= m;
        int units = byCols ? (n + blk.Nr - 1) / blk.Nr : (m + blk.Mr - 1) / blk.Mr;
        threads = Math.Max(1, Math.Min(threads, units));
        if (threads == 1) { Block(in pr, 0, m, 0, n); return; }
        Parallel.For(0, threads, SimdThreading.Options, t =>
        {
            int u0 = (int)((long)units * t / threads), u1 = (int)((long)units * (t + 1) / threads);
            if (byCols) Block(in pr, 0, pr.M, u0 * pr.Blk.Nr, Math.Min(pr.N, u1 * pr.Blk.Nr));
            else Block(in pr, u0 * pr.Blk.Mr, Math.Min(pr.M, u1 * pr.Blk.Mr), 0, pr.N);
        });
    }

    // C[i0..i1, j0..j1] on the calling thread.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(in Problem pr, int i0, int i1, int j0, int j1)
    {
        var blk = pr.Blk;
        int mr = blk.Mr, nr = blk.Nr;
        bool avx512 = blk.Level == GemmSimdLevel.Vector512;
        float* bufA = GemmBuffers.A((long)blk.Mc * blk.Kc + MatmulPacking.PackSlack);
        float* bufB = GemmBuffers.B((long)Math.Min(blk.Nc, RoundUp(j1 - j0, nr)) * blk.Kc + MatmulPacking.PackSlack);
        float* tile = stackalloc float[mr * nr];
        float* a = (float*)pr.A, c = (float*)pr.C;

        for (int jc = j0; jc < j1; jc += blk.Nc)
        {
            int nc = Math.Min(blk.Nc, j1 - jc);
            for (int pc = 0; pc < pr.K; pc += blk.Kc)
            {
                int kc = Math.Min(blk.Kc, pr.K - pc);
                if (pr.Bf != 0) MatmulPacking.PackB((float*)pr.Bf, pr.Ldb, pr.TransB, pc, kc, jc, nc, nr, bufB, avx512);
                else MatmulPacking.PackB((ushort*)pr.Bh, pr.Ldb, pr.TransB, pc, kc, jc, nc, nr, bufB, avx512);
                bool load = pr.Accumulate || pc > 0;
                for (int ic = i0; ic < i1; ic += blk.Mc)
                {
                    int mc = Math.Min(blk.Mc, i1 - ic);
                    MatmulPacking.PackA(a, pr.Lda, pr.TransA, ic, mc, pc, kc, mr, bufA, avx512);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int nw = Math.Min(nr, nc - jr);
                        float* bp = bufB + (long)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int mh = Math.Min(mr, mc - ir);
                            float* ap = bufA + (long)ir * kc;
                            float* cp = c + (long)(ic + ir) * pr.Ldc + jc + jr;
                            if (mh == mr && nw == nr) blk.Kernel(kc, ap, bp, cp, pr.Ldc, load);
                            else
                            {
                                blk.Kernel(kc, ap, bp, tile, nr, false);
                                Merge(tile, nr, cp, pr.Ldc, mh, nw, load);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void Merge(float* tile, int ldt, float* c, long ldc, int rows, int cols, bool load)
    {
        for (int i = 0; i < rows; i++)
        {
            float* t = tile + i * ldt, d = c + i * ldc;
            if (load) for (int j = 0; j < cols; j++) d[j] += t[j];
            else for (int j = 0; j < cols; j++) d[j] = t[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int RoundUp(int x, int unit) => (x + unit - 1) / unit * unit;
}
