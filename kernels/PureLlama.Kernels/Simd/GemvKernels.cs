// Inner loops of Gemv (see SimdGemv.cs):  Y[r, i] (=|+=) Σ_p W[i, p] · X[r, p].
//
// Each weight row is read as one sequential stream (measured: streaming 4 rows side by side
// ran at half the bandwidth for bf16, 0.7× for f32), dotted with each x row in turn by a
// 4-accumulator loop; from the second x row on, the weight row comes from L1. (A 1 × 4 tile that
// shares each weight vector across 4 x rows measured slower than 4 such passes at m = 4; from m = 8 on, where the
// x rows no longer fit L1 and the loads bound the FMAs, the tile (Dot512x4) is used, each row's arithmetic exactly
// Dot512's.) Scalar tail for k mod 16, horizontal sums at the end. The
// weight element type is a type parameter (f32 or bf16) resolved at JIT time, so the bf16
// widening (zero-extend 16 → 32 bits, shift left 16) is inlined into the loop.
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
        static abstract Vector512<float> Load16(T* p);
        static abstract Vector256<float> Load8(T* p);
        static abstract float Load1(T* p);
    }

    internal struct F32Weights : IWeights<float>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load16(float* p) => Vector512.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load8(float* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load1(float* p) => *p;
    }

    internal struct Bf16Weights : IWeights<ushort>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(ushort* p)
        {
            Vector512<uint> wide = Avx512F.IsSupported
                ? Avx512F.ConvertToVector512UInt32(Vector256.Load(p))
                : Vector512.Create(Vector256.WidenLower(Vector256.Load(p)), Vector256.WidenUpper(Vector256.Load(p)));
            return Vector512.ShiftLeft(wide, 16).AsSingle();
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

    // Weight rows [i0, i1) against all m x rows. Each weight row is one sequential stream, read
    // from memory once; x rows and the reuse of the weight row come from L1.
    private static void Range<T, TW>(int i0, int i1, int m, int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        var level = GemmIsa.Current;
        for (int i = i0; i < i1; i++)
        {
            T* wi = w + (long)i * ldw;
            int r = 0;
            if (level == GemmSimdLevel.Vector512 && m >= RowTileMinRows)
                for (; r + 4 <= m; r += 4)
                {
                    float* xr = x + (long)r * ldx;
                    var (a, b, c, d) = Dot512x4<T, TW>(k, wi, xr, xr + ldx, xr + 2L * ldx, xr + 3L * ldx);
                    float* yr = y + (long)r * ldy + i;
                    Put(yr, a, acc); Put(yr + ldy, b, acc); Put(yr + 2L * ldy, c, acc); Put(yr + 3L * ldy, d, acc);
                }
            for (; r < m; r++)
            {
                float s = level switch
                {
                    GemmSimdLevel.Vector512 => Dot512<T, TW>(k, wi, x + (long)r * ldx),
                    GemmSimdLevel.Vector256 => Dot256<T, TW>(k, wi, x + (long)r * ldx),
                    _ => DotScalar<T, TW>(0, k, wi, x + (long)r * ldx),
                };
                Put(y + (long)r * ldy + i, s, acc);
            }
        }
    }

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
        // 4 independent FMA chains cover the FMA latency.
        var s0 = Vector512<float>.Zero; var s1 = Vector512<float>.Zero; var s2 = Vector512<float>.Zero; var s3 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 64 <= k; p += 64)
        {
            s0 = Vector512.FusedMultiplyAdd(TW.Load16(w + p), Vector512.Load(x + p), s0);
            s1 = Vector512.FusedMultiplyAdd(TW.Load16(w + p + 16), Vector512.Load(x + p + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(TW.Load16(w + p + 32), Vector512.Load(x + p + 32), s2);
            s3 = Vector512.FusedMultiplyAdd(TW.Load16(w + p + 48), Vector512.Load(x + p + 48), s3);
        }
        for (; p + 16 <= k; p += 16) s0 = Vector512.FusedMultiplyAdd(TW.Load16(w + p), Vector512.Load(x + p), s0);
        float sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        return sum + DotScalar<T, TW>(p, k, w, x);
    }

    /// <summary>
    /// From this many x rows on (batched serving, prefill in a RowInvariance scope), four x rows share each weight
    /// vector load (16 accumulators); below it the measured-faster one-row passes stay. Bits are the same either way.
    /// </summary>
    internal const int RowTileMinRows = 8;

    // Dot512 of one weight row with four x rows at once: each row's chains, order of operations and final sums are
    // exactly Dot512's, so a row's result does not depend on whether it went through here (batch invariance).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (float, float, float, float) Dot512x4<T, TW>(int k, T* w, float* x0, float* x1, float* x2, float* x3)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        var a0 = Vector512<float>.Zero; var a1 = Vector512<float>.Zero; var a2 = Vector512<float>.Zero; var a3 = Vector512<float>.Zero;
        var b0 = Vector512<float>.Zero; var b1 = Vector512<float>.Zero; var b2 = Vector512<float>.Zero; var b3 = Vector512<float>.Zero;
        var c0 = Vector512<float>.Zero; var c1 = Vector512<float>.Zero; var c2 = Vector512<float>.Zero; var c3 = Vector512<float>.Zero;
        var d0 = Vector512<float>.Zero; var d1 = Vector512<float>.Zero; var d2 = Vector512<float>.Zero; var d3 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 64 <= k; p += 64)
        {
            var w0 = TW.Load16(w + p); var w1 = TW.Load16(w + p + 16); var w2 = TW.Load16(w + p + 32); var w3 = TW.Load16(w + p + 48);
            a0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x0 + p), a0); a1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x0 + p + 16), a1);
            a2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x0 + p + 32), a2); a3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x0 + p + 48), a3);
            b0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x1 + p), b0); b1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x1 + p + 16), b1);
            b2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x1 + p + 32), b2); b3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x1 + p + 48), b3);
            c0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x2 + p), c0); c1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x2 + p + 16), c1);
            c2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x2 + p + 32), c2); c3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x2 + p + 48), c3);
            d0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x3 + p), d0); d1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x3 + p + 16), d1);
            d2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x3 + p + 32), d2); d3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x3 + p + 48), d3);
        }
        for (; p + 16 <= k; p += 16)
        {
            var w0 = TW.Load16(w + p);
            a0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x0 + p), a0);
            b0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x1 + p), b0);
            c0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x2 + p), c0);
            d0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x3 + p), d0);
        }
        return (Vector512.Sum((a0 + a1) + (a2 + a3)) + DotScalar<T, TW>(p, k, w, x0),
                Vector512.Sum((b0 + b1) + (b2 + b3)) + DotScalar<T, TW>(p, k, w, x1),
                Vector512.Sum((c0 + c1) + (c2 + c3)) + DotScalar<T, TW>(p, k, w, x2),
                Vector512.Sum((d0 + d1) + (d2 + d3)) + DotScalar<T, TW>(p, k, w, x3));
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
