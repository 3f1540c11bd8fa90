// Inner loops of Gemv (see SimdGemv.cs):  Y[r, i] (=|+=) Σ_p W[i, p] · X[r, p].
//
// Every output is one fixed-order dot product (Dot512: 4 chains of 16 lanes over 64-column steps, a 32-column
// tail into chains 0 and 1, Sum((s0 + s1) + (s2 + s3)), then a scalar tail), whatever m is: that is batch invariance.
// bf16 weights are read 32 at a time as one 64-byte load split into even and odd columns by a shift and a mask, and
// the x rows are permuted once per call to match (PermuteX), half the widening work of a zero-extend and shift.
// One or two x rows: each weight row is read as one sequential stream (measured: streaming 4 rows side by side ran
// at half the bandwidth for bf16, 0.7× for f32) and reused from L1 for the second row. From 3 x rows on, the rows
// go through GemvTiles (up to 8 x rows × 3 weight rows, one Dot512 chain at a time) over L2-sized blocks of x rows,
// which makes prefill and serving batches a blocked GEMM with the GEMV's bits. The weight element type is a
// type parameter (f32 or bf16) resolved at JIT time, so the bf16 widening is inlined into the loop.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Kernels.Numerics;

namespace PureLlama.Kernels.Simd;

internal static unsafe class GemvKernels
{
    /// <summary>How a weight element type is read and widened to f32.</summary>
    internal interface IWeights<T> where T : unmanaged
    {
        /// <summary>
        /// 32 weights from p as two f32 vectors: (p … p+15, p+16 … p+31) for f32; for bf16 the even (p, p+2, … p+30) and
        /// odd (p+1, … p+31) ones — one 64-byte load, a shift and a mask, no widening shuffle — which the x rows meet
        /// permuted the same way (PermuteX).
        /// </summary>
        static abstract (Vector512<float> A, Vector512<float> B) Load32(T* p);

        /// <summary>True when Load32 splits even and odd columns (x rows are permuted to match at AVX-512).</summary>
        static abstract bool Interleaved { get; }

        /// <summary>The first (odd = false) or second of Load32's two vectors, alone (one chain of a GemvTiles pass).</summary>
        static abstract Vector512<float> Load16(T* p, bool odd);

        static abstract Vector256<float> Load8(T* p);
        static abstract float Load1(T* p);
    }

    internal struct F32Weights : IWeights<float>
    {
        public static bool Interleaved => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static (Vector512<float>, Vector512<float>) Load32(float* p) => (Vector512.Load(p), Vector512.Load(p + 16));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load16(float* p, bool odd) => Vector512.Load(odd ? p + 16 : p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load8(float* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load1(float* p) => *p;
    }

    internal struct Bf16Weights : IWeights<ushort>
    {
        public static bool Interleaved => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<float>, Vector512<float>) Load32(ushort* p)
        {
            var v = Vector512.Load((uint*)p);   // lane i: bf16 of column 2i in the low half, of 2i + 1 in the high half
            return (Vector512.ShiftLeft(v, 16).AsSingle(), (v & Vector512.Create(0xFFFF0000u)).AsSingle());
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(ushort* p, bool odd)
        {
            var v = Vector512.Load((uint*)p);
            return (odd ? v & Vector512.Create(0xFFFF0000u) : Vector512.ShiftLeft(v, 16)).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(ushort* p)
        {
            Vector256<uint> wide = Avx2.IsSupported
                ? Avx2.ConvertToVector256Int32(Vector128.Load(p)).AsUInt32()
                : Vector256.Create(Vector128.WidenLower(Vector128.Load(p)), Vector128.WidenUpper(Vector128.Load(p)));
            return Vector256.ShiftLeft(wide, 16).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load1(ushort* p) => Bf16.ToFloat(*p);
    }

    /// <summary>Y[m, n] (=|+=) X[m, k] · W[n, k]ᵀ, multi-threaded over n. Arguments already validated.</summary>
    public static void Run<T, TW>(int m, int n, int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool accumulate)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        if (GemmIsa.Current == GemmSimdLevel.Vector512 && m >= TileMinRows && k >= 32)
        {
            float[] packed = ArrayPool<float>.Shared.Rent((int)GemvTiles.PackedLength(m, k) + AlignSlack);
            try
            {
                fixed (float* pinned = packed)
                {
                    float* xp = Align64(pinned);
                    GemvTiles.PackX(m, k, x, ldx, xp, TW.Interleaved);
                    Split<T, TW>(m, n, k, w, ldw, x, ldx, xp, y, ldy, accumulate);
                }
            }
            finally { ArrayPool<float>.Shared.Return(packed); }
            return;
        }
        if (TW.Interleaved && GemmIsa.Current == GemmSimdLevel.Vector512 && k >= 32)
        {
            float[] permuted = ArrayPool<float>.Shared.Rent(m * k);
            try
            {
                fixed (float* pinned = permuted)
                {
                    float* xp = pinned;
                    for (int r = 0; r < m; r++) PermuteX(x + (long)r * ldx, xp + (long)r * k, k);
                    Split<T, TW>(m, n, k, w, ldw, xp, k, null, y, ldy, accumulate);
                }
            }
            finally { ArrayPool<float>.Shared.Return(permuted); }
            return;
        }
        Split<T, TW>(m, n, k, w, ldw, x, ldx, null, y, ldy, accumulate);
    }

    // Pooled arrays are not 64-byte aligned: the packed x of the tiles gets 16 floats of slack and starts at the first
    // 64-byte boundary in them, so no 64-byte x load straddles two cache lines (measured, 1 thread, CPU time: m = 8 in L2
    // 0.084 → 0.072 ms, m = 16 at k = 8192 7.9 → 6.9 ms). The one- and two-row path keeps the pooled array as it is: there
    // an aligned x looked ~15 % slower in one set of three interleaved rounds, which later rounds did not confirm (drift of
    // ±20 % on this shared machine), so it stays as it was.
    private const int AlignSlack = 16;

    private static float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    // Each full 32-column block of x as its 16 even then its 16 odd columns (Load32's order for bf16); the k mod 32
    // tail is copied as it is (the scalar tail reads it).
    private static void PermuteX(float* x, float* dst, int k)
    {
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        int p = 0;
        for (; p + 32 <= k; p += 32)
        {
            var lo = Vector512.Load(x + p);
            var hi = Vector512.Load(x + p + 16);
            Avx512F.PermuteVar16x32x2(lo, even, hi).Store(dst + p);
            Avx512F.PermuteVar16x32x2(lo, odd, hi).Store(dst + p + 16);
        }
        for (; p < k; p++) dst[p] = x[p];
    }

    // xPacked: x packed for GemvTiles (m ≥ TileMinRows at AVX-512), else null. The weight rows are cut in units of 4
    // rows, or of a GemvTiles weight chunk when tiled, into up to PiecesPerThread pieces per thread (SpinFork, dynamic).
    private static void Split<T, TW>(int m, int n, int k, T* w, int ldw, float* x, int ldx, float* xPacked, float* y, int ldy, bool accumulate)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        int unit = xPacked != null ? GemvTiles.WeightChunk : 4;
        int groups = (n + unit - 1) / unit;
        long work = (long)m * n * k;
        int threads = (int)Math.Min(Math.Min(SimdThreading.MaxThreads, groups), Math.Max(1, work / (1 << 16)));
        if (threads <= 1) { Range<T, TW>(0, n, m, k, w, ldw, x, ldx, xPacked, y, ldy, accumulate); return; }
        int pieces = (int)Math.Min(groups, (long)threads * ParallelWork.PiecesPerThread);
        nint wp = (nint)w, xp = (nint)x, pp = (nint)xPacked, yp = (nint)y;
        SpinFork.Run(pieces, t =>
        {
            int i0 = (int)((long)groups * t / pieces) * unit, i1 = Math.Min(n, (int)((long)groups * (t + 1) / pieces) * unit);
            Range<T, TW>(i0, i1, m, k, (T*)wp, ldw, (float*)xp, ldx, (float*)pp, (float*)yp, ldy, accumulate);
        });
    }

    // Weight rows [i0, i1) against all m x rows. Below TileMinRows x rows: each weight row is one sequential stream, read
    // from memory once, its reuse for the second row from L1. Packed x (AVX-512, m ≥ TileMinRows): Tiled.
    private static void Range<T, TW>(int i0, int i1, int m, int k, T* w, int ldw, float* x, int ldx, float* xPacked, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        if (xPacked != null) { Tiled<T, TW>(i0, i1, m, k, w, ldw, x, ldx, xPacked, y, ldy, acc); return; }
        var level = GemmIsa.Current;
        int i = i0;
        if (level == GemmSimdLevel.Vector512 && k >= Rows4MinK && m == 1)
            for (; i + 4 <= i1; i += 4) Rows4<T, TW>(k, w + (long)i * ldw, ldw, x, y + i, acc);
        for (; i < i1; i++)
            for (int r = 0; r < m; r++)
                Put(y + (long)r * ldy + i, Dot<T, TW>(level, k, w + (long)i * ldw, x + (long)r * ldx), acc);
    }

    /// <summary>
    /// From this many x rows on (serving batches, prefill in a RowInvariance scope), products run as GemvTiles (up to
    /// 8 x rows × 3 weight rows); below it one row at a time. A row's bits are Dot512's either way.
    /// </summary>
    internal const int TileMinRows = 3;

    /// <summary>Bytes of x rows a tile pass keeps in L2 while the weight rows stream past them.</summary>
    private const int XBlockBytes = 512 << 10;

    // The x rows in blocks (whole tiles of GemvTiles.MaxRows) that stay in L2; within a block each chunk of weight rows is
    // read from memory once and meets the block's tiles of x rows one after the other (the chunk then in L2).
    private static void Tiled<T, TW>(int i0, int i1, int m, int k, T* w, int ldw, float* x, int ldx, float* xPacked, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        const int tileRows = GemvTiles.MaxRows;
        var stash = stackalloc Vector512<float>[4 * GemvTiles.StashPerChain];
        int block = Math.Max(tileRows, XBlockBytes / (k * sizeof(float)) / tileRows * tileRows);
        for (int r0 = 0; r0 < m; r0 += block)
        {
            int r1 = Math.Min(m, r0 + block);
            for (int i = i0; i < i1; i += GemvTiles.WeightChunk)
            {
                int ie = Math.Min(i1, i + GemvTiles.WeightChunk);
                for (int r = r0; r < r1; r += tileRows)
                    GemvTiles.Run<T, TW>(Math.Min(tileRows, r1 - r), i, ie, r, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot<T, TW>(GemmSimdLevel level, int k, T* w, float* x) where T : unmanaged where TW : struct, IWeights<T> => level switch
    {
        GemmSimdLevel.Vector512 => Dot512<T, TW>(k, w, x),
        GemmSimdLevel.Vector256 => Dot256<T, TW>(k, w, x),
        _ => DotScalar<T, TW>(0, k, w, x),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* y, float s, bool acc) => *y = acc ? *y + s : s;

    internal static float DotScalar<T, TW>(int p, int k, T* w, float* x) where T : unmanaged where TW : struct, IWeights<T>
    {
        float s = 0f;
        for (; p < k; p++) s += TW.Load1(w + p) * x[p];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot512<T, TW>(int k, T* w, float* x) where T : unmanaged where TW : struct, IWeights<T>
    {
        // 4 independent FMA chains cover the FMA latency; chain c takes columns 16c … 16c + 15 of each 64 (bf16: of
        // the permuted order), a 32-column tail goes to chains 0 and 1.
        var s0 = Vector512<float>.Zero; var s1 = Vector512<float>.Zero; var s2 = Vector512<float>.Zero; var s3 = Vector512<float>.Zero;
        int k64 = k & ~63;
        Steps512<T, TW>(0, k64, w, x, ref s0, ref s1, ref s2, ref s3);
        return Finish512<T, TW>(k64, k, w, x, s0, s1, s2, s3);
    }

    // Dot512's 64-column steps over [p0, p1) (multiples of 64), continuing the four chains.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Steps512<T, TW>(int p0, int p1, T* w, float* x,
        ref Vector512<float> s0, ref Vector512<float> s1, ref Vector512<float> s2, ref Vector512<float> s3)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        var a0 = s0; var a1 = s1; var a2 = s2; var a3 = s3;
        for (int p = p0; p < p1; p += 64)
        {
            var (w0, w1) = TW.Load32(w + p);
            var (w2, w3) = TW.Load32(w + p + 32);
            a0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x + p), a0);
            a1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x + p + 16), a1);
            a2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x + p + 32), a2);
            a3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x + p + 48), a3);
        }
        s0 = a0; s1 = a1; s2 = a2; s3 = a3;
    }

    // Dot512 after its 64-column steps (p = k rounded down to 64): the 32-column tail into chains 0 and 1, the sum of the
    // chains, the scalar tail.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish512<T, TW>(int p, int k, T* w, float* x, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        if (p + 32 <= k)
        {
            var (w0, w1) = TW.Load32(w + p);
            s0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x + p), s0);
            s1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x + p + 16), s1);
            p += 32;
        }
        float sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        return sum + DotScalar<T, TW>(p, k, w, x);
    }

    /// <summary>From this k on, one x row meets four weight rows side by side (Rows4).</summary>
    internal const int Rows4MinK = 4096;

    // Dot512 of weight rows i … i + 3 with one x row, the four rows side by side: each x vector is loaded once for four
    // weight rows. Measured (single thread, CPU time, 2048 × 8192 bf16): one row at a time 12–14 GB/s, four side by side
    // 18–19 GB/s — at k = 8192 the 32 KiB x row is as large as L1 and was reloaded from L2 for every weight row; at
    // k = 2048 (x in L1) one row at a time stays faster (20 vs 15 GB/s). Each row keeps Dot512's chains and order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows4<T, TW>(int k, T* w, long ldw, float* x, float* y, bool acc) where T : unmanaged where TW : struct, IWeights<T>
    {
        T* wa = w, wb = w + ldw, wc = wb + ldw, wd = wc + ldw;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        int k64 = k & ~63;
        for (int p = 0; p < k64; p += 64)
        {
            var x0 = Vector512.Load(x + p); var x1 = Vector512.Load(x + p + 16);
            var (u0, u1) = TW.Load32(wa + p); a0 = Vector512.FusedMultiplyAdd(u0, x0, a0); a1 = Vector512.FusedMultiplyAdd(u1, x1, a1);
            (u0, u1) = TW.Load32(wb + p); b0 = Vector512.FusedMultiplyAdd(u0, x0, b0); b1 = Vector512.FusedMultiplyAdd(u1, x1, b1);
            (u0, u1) = TW.Load32(wc + p); c0 = Vector512.FusedMultiplyAdd(u0, x0, c0); c1 = Vector512.FusedMultiplyAdd(u1, x1, c1);
            (u0, u1) = TW.Load32(wd + p); d0 = Vector512.FusedMultiplyAdd(u0, x0, d0); d1 = Vector512.FusedMultiplyAdd(u1, x1, d1);
            x0 = Vector512.Load(x + p + 32); x1 = Vector512.Load(x + p + 48);
            (u0, u1) = TW.Load32(wa + p + 32); a2 = Vector512.FusedMultiplyAdd(u0, x0, a2); a3 = Vector512.FusedMultiplyAdd(u1, x1, a3);
            (u0, u1) = TW.Load32(wb + p + 32); b2 = Vector512.FusedMultiplyAdd(u0, x0, b2); b3 = Vector512.FusedMultiplyAdd(u1, x1, b3);
            (u0, u1) = TW.Load32(wc + p + 32); c2 = Vector512.FusedMultiplyAdd(u0, x0, c2); c3 = Vector512.FusedMultiplyAdd(u1, x1, c3);
            (u0, u1) = TW.Load32(wd + p + 32); d2 = Vector512.FusedMultiplyAdd(u0, x0, d2); d3 = Vector512.FusedMultiplyAdd(u1, x1, d3);
        }
        Put(y, Finish512<T, TW>(k64, k, wa, x, a0, a1, a2, a3), acc);
        Put(y + 1, Finish512<T, TW>(k64, k, wb, x, b0, b1, b2, b3), acc);
        Put(y + 2, Finish512<T, TW>(k64, k, wc, x, c0, c1, c2, c3), acc);
        Put(y + 3, Finish512<T, TW>(k64, k, wd, x, d0, d1, d2, d3), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot256<T, TW>(int k, T* w, float* x) where T : unmanaged where TW : struct, IWeights<T>
    {
        var s0 = Vector256<float>.Zero; var s1 = Vector256<float>.Zero;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            s0 = Vector256.FusedMultiplyAdd(TW.Load8(w + p), Vector256.Load(x + p), s0);
            s1 = Vector256.FusedMultiplyAdd(TW.Load8(w + p + 8), Vector256.Load(x + p + 8), s1);
        }
        for (; p + 8 <= k; p += 8) s0 = Vector256.FusedMultiplyAdd(TW.Load8(w + p), Vector256.Load(x + p), s0);
        return Vector256.Sum(s0 + s1) + DotScalar<T, TW>(p, k, w, x);
    }
}
