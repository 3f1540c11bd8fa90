// Inner loops of Gemv (see SimdGemv.cs):  Y[r, i] (=|+=) Σ_p W[i, p] · X[r, p].
//
// Every output is one fixed-order dot product (Dot512: 4 chains of 16 lanes over 64-column steps, a 32-column
// tail into chains 0 and 1, Sum((s0 + s1) + (s2 + s3)), then a scalar tail), whatever m is: that is batch invariance.
// bf16 weights are read 32 at a time as one 64-byte load split into even and odd columns by a shift and a mask, and
// the x rows are permuted once per call to match (PermuteX), half the widening work of a zero-extend and shift.
// One or two x rows: each weight row is read as one sequential stream (measured: streaming 4 rows side by side ran
// at half the bandwidth for bf16, 0.7× for f32) and reused from L1 for the second row. From 3 x rows on, the rows
// go through 3 × 2 tiles (Dot512x3x2: two weight rows widened once for three x rows) over L2-sized blocks of x
// rows, which makes prefill and serving batches a blocked GEMM with the GEMV's bits. The weight element type is a
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

        static abstract Vector256<float> Load8(T* p);
        static abstract float Load1(T* p);
    }

    internal struct F32Weights : IWeights<float>
    {
        public static bool Interleaved => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static (Vector512<float>, Vector512<float>) Load32(float* p) => (Vector512.Load(p), Vector512.Load(p + 16));
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
        if (TW.Interleaved && GemmIsa.Current == GemmSimdLevel.Vector512 && k >= 32)
        {
            float[] permuted = ArrayPool<float>.Shared.Rent(m * k);
            try
            {
                fixed (float* xp = permuted)
                {
                    for (int r = 0; r < m; r++) PermuteX(x + (long)r * ldx, xp + (long)r * k, k);
                    Split<T, TW>(m, n, k, w, ldw, xp, k, y, ldy, accumulate);
                }
            }
            finally { ArrayPool<float>.Shared.Return(permuted); }
            return;
        }
        Split<T, TW>(m, n, k, w, ldw, x, ldx, y, ldy, accumulate);
    }

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

    private static void Split<T, TW>(int m, int n, int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool accumulate)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        int groups = (n + 3) / 4; // thread split in units of 4 rows
        long work = (long)m * n * k;
        int threads = (int)Math.Min(Math.Min(SimdThreading.MaxThreads, groups), Math.Max(1, work / (1 << 16)));
        if (threads <= 1) { Range<T, TW>(0, n, m, k, w, ldw, x, ldx, y, ldy, accumulate); return; }
        nint wp = (nint)w, xp = (nint)x, yp = (nint)y;
        Parallel.For(0, threads, SimdThreading.Options, t =>
        {
            int i0 = (int)((long)groups * t / threads) * 4, i1 = Math.Min(n, (int)((long)groups * (t + 1) / threads) * 4);
            Range<T, TW>(i0, i1, m, k, (T*)wp, ldw, (float*)xp, ldx, (float*)yp, ldy, accumulate);
        });
    }

    // Weight rows [i0, i1) against all m x rows. One or two x rows: each weight row is one sequential stream, read from
    // memory once, its reuse for the second row from L1. From TileMinRows on (AVX-512): Tiled.
    private static void Range<T, TW>(int i0, int i1, int m, int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        var level = GemmIsa.Current;
        if (level == GemmSimdLevel.Vector512 && m >= TileMinRows) { Tiled<T, TW>(i0, i1, m, k, w, ldw, x, ldx, y, ldy, acc); return; }
        for (int i = i0; i < i1; i++)
            for (int r = 0; r < m; r++)
                Put(y + (long)r * ldy + i, Dot<T, TW>(level, k, w + (long)i * ldw, x + (long)r * ldx), acc);
    }

    /// <summary>
    /// From this many x rows on (serving batches, prefill in a RowInvariance scope), products run as 3 × 2 tiles
    /// (Dot512x3x2); below it one row at a time. A row's bits are Dot512's either way.
    /// </summary>
    internal const int TileMinRows = 3;

    /// <summary>Bytes of x rows a tile pass keeps in L2 while the weight rows stream past them.</summary>
    private const int XBlockBytes = 384 << 10;

    // The x rows in blocks that stay in L2; within a block each pair of weight rows is read from memory once and meets
    // the block's x rows three at a time from L1 (Dot512x3x2); leftover x rows and an odd weight row run Dot512.
    private static void Tiled<T, TW>(int i0, int i1, int m, int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        int block = Math.Max(3, XBlockBytes / (k * sizeof(float)) / 3 * 3);
        for (int r0 = 0; r0 < m; r0 += block)
        {
            int r1 = Math.Min(m, r0 + block);
            int i = i0;
            for (; i + 2 <= i1; i += 2)
            {
                T* wa = w + (long)i * ldw, wb = wa + ldw;
                int r = r0;
                for (; r + 3 <= r1; r += 3) Dot512x3x2<T, TW>(k, wa, wb, x + (long)r * ldx, ldx, y + (long)r * ldy + i, ldy, acc);
                for (; r < r1; r++)
                {
                    Put(y + (long)r * ldy + i, Dot512<T, TW>(k, wa, x + (long)r * ldx), acc);
                    Put(y + (long)r * ldy + i + 1, Dot512<T, TW>(k, wb, x + (long)r * ldx), acc);
                }
            }
            if (i < i1)
                for (int r = r0; r < r1; r++) Put(y + (long)r * ldy + i, Dot512<T, TW>(k, w + (long)i * ldw, x + (long)r * ldx), acc);
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

    private static float DotScalar<T, TW>(int p, int k, T* w, float* x) where T : unmanaged where TW : struct, IWeights<T>
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
        int p = 0;
        for (; p + 64 <= k; p += 64)
        {
            var (w0, w1) = TW.Load32(w + p);
            var (w2, w3) = TW.Load32(w + p + 32);
            s0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x + p), s0);
            s1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x + p + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x + p + 32), s2);
            s3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x + p + 48), s3);
        }
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

    // Dot512 of two weight rows with three x rows: six outputs, each with exactly Dot512's chains, order of operations and
    // final sums, so a row's result does not depend on which rows share the tile (batch invariance). Per 64 columns: 4
    // weight loads (widened once, used 3 times) and 12 x loads for 24 FMAs, against 1 : 1 in Dot512.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot512x3x2<T, TW>(int k, T* wa, T* wb, float* x0, long ldx, float* y, long ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        float* x1 = x0 + ldx, x2 = x1 + ldx;
        var s000 = Vector512<float>.Zero; var s001 = Vector512<float>.Zero; var s002 = Vector512<float>.Zero; var s003 = Vector512<float>.Zero;
        var s010 = Vector512<float>.Zero; var s011 = Vector512<float>.Zero; var s012 = Vector512<float>.Zero; var s013 = Vector512<float>.Zero;
        var s100 = Vector512<float>.Zero; var s101 = Vector512<float>.Zero; var s102 = Vector512<float>.Zero; var s103 = Vector512<float>.Zero;
        var s110 = Vector512<float>.Zero; var s111 = Vector512<float>.Zero; var s112 = Vector512<float>.Zero; var s113 = Vector512<float>.Zero;
        var s200 = Vector512<float>.Zero; var s201 = Vector512<float>.Zero; var s202 = Vector512<float>.Zero; var s203 = Vector512<float>.Zero;
        var s210 = Vector512<float>.Zero; var s211 = Vector512<float>.Zero; var s212 = Vector512<float>.Zero; var s213 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 64 <= k; p += 64)
        {
            Half3x2<T, TW>(wa + p, wb + p, x0 + p, x1 + p, x2 + p,
                ref s000, ref s001, ref s010, ref s011, ref s100, ref s101, ref s110, ref s111, ref s200, ref s201, ref s210, ref s211);
            Half3x2<T, TW>(wa + p + 32, wb + p + 32, x0 + p + 32, x1 + p + 32, x2 + p + 32,
                ref s002, ref s003, ref s012, ref s013, ref s102, ref s103, ref s112, ref s113, ref s202, ref s203, ref s212, ref s213);
        }
        if (p + 32 <= k)
        {
            Half3x2<T, TW>(wa + p, wb + p, x0 + p, x1 + p, x2 + p,
                ref s000, ref s001, ref s010, ref s011, ref s100, ref s101, ref s110, ref s111, ref s200, ref s201, ref s210, ref s211);
            p += 32;
        }
        Put(y + 0L * ldy + 0, Vector512.Sum((s000 + s001) + (s002 + s003)) + DotScalar<T, TW>(p, k, wa, x0), acc);
        Put(y + 0L * ldy + 1, Vector512.Sum((s010 + s011) + (s012 + s013)) + DotScalar<T, TW>(p, k, wb, x0), acc);
        Put(y + 1L * ldy + 0, Vector512.Sum((s100 + s101) + (s102 + s103)) + DotScalar<T, TW>(p, k, wa, x1), acc);
        Put(y + 1L * ldy + 1, Vector512.Sum((s110 + s111) + (s112 + s113)) + DotScalar<T, TW>(p, k, wb, x1), acc);
        Put(y + 2L * ldy + 0, Vector512.Sum((s200 + s201) + (s202 + s203)) + DotScalar<T, TW>(p, k, wa, x2), acc);
        Put(y + 2L * ldy + 1, Vector512.Sum((s210 + s211) + (s212 + s213)) + DotScalar<T, TW>(p, k, wb, x2), acc);
    }

    // Dot512x3x2's 32 columns at p for one pair of chains (lo, hi) of each of its six outputs.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Half3x2<T, TW>(T* wa, T* wb, float* x0, float* x1, float* x2,
        ref Vector512<float> a00, ref Vector512<float> b00, ref Vector512<float> a01, ref Vector512<float> b01, ref Vector512<float> a10, ref Vector512<float> b10, ref Vector512<float> a11, ref Vector512<float> b11, ref Vector512<float> a20, ref Vector512<float> b20, ref Vector512<float> a21, ref Vector512<float> b21)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        var (u0, u1) = TW.Load32(wa); var (v0, v1) = TW.Load32(wb);
        var t0 = Vector512.Load(x0); a00 = Vector512.FusedMultiplyAdd(u0, t0, a00); a01 = Vector512.FusedMultiplyAdd(v0, t0, a01);
        var t1 = Vector512.Load(x1); a10 = Vector512.FusedMultiplyAdd(u0, t1, a10); a11 = Vector512.FusedMultiplyAdd(v0, t1, a11);
        var t2 = Vector512.Load(x2); a20 = Vector512.FusedMultiplyAdd(u0, t2, a20); a21 = Vector512.FusedMultiplyAdd(v0, t2, a21);
        t0 = Vector512.Load(x0 + 16); b00 = Vector512.FusedMultiplyAdd(u1, t0, b00); b01 = Vector512.FusedMultiplyAdd(v1, t0, b01);
        t1 = Vector512.Load(x1 + 16); b10 = Vector512.FusedMultiplyAdd(u1, t1, b10); b11 = Vector512.FusedMultiplyAdd(v1, t1, b11);
        t2 = Vector512.Load(x2 + 16); b20 = Vector512.FusedMultiplyAdd(u1, t2, b20); b21 = Vector512.FusedMultiplyAdd(v1, t2, b21);
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
