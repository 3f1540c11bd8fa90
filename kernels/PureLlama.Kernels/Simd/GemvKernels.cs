// Inner loops of Gemv (see Gemv.cs):  Y[r, i] (=|+=) Σ_p W[i, p] · X[r, p].
//
// Vector512 tiles: 4 weight rows × {4, 2, 1} x rows, one zmm accumulator per (weight row, x row),
// 16 k-steps per iteration; each weight vector loaded once and used for every x row of the tile.
// Scalar tail for k mod 16, horizontal sums at the end. The weight element type is a type
// parameter (f32 or bf16) resolved at JIT time, so the bf16 widening is inlined into the loop.
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
        int groups = (n + 3) / 4;
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

    // Weight rows [i0, i1) against all m x rows.
    private static void Range<T, TW>(int i0, int i1, int m, int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        var level = GemmIsa.Current;
        int i = i0;
        if (level == GemmSimdLevel.Vector512)
        {
            for (; i + 4 <= i1; i += 4)
            {
                T* wi = w + (long)i * ldw;
                int r = 0;
                for (; r + 4 <= m; r += 4) Tile4x4<T, TW>(k, wi, ldw, x + (long)r * ldx, ldx, y + (long)r * ldy + i, ldy, acc);
                for (; r + 2 <= m; r += 2) Tile4x2<T, TW>(k, wi, ldw, x + (long)r * ldx, ldx, y + (long)r * ldy + i, ldy, acc);
                for (; r < m; r++) Tile4x1<T, TW>(k, wi, ldw, x + (long)r * ldx, y + (long)r * ldy + i, acc);
            }
        }
        for (; i < i1; i++)
            for (int r = 0; r < m; r++)
            {
                float s = level switch
                {
                    GemmSimdLevel.Vector512 => Dot512<T, TW>(k, w + (long)i * ldw, x + (long)r * ldx),
                    GemmSimdLevel.Vector256 => Dot256<T, TW>(k, w + (long)i * ldw, x + (long)r * ldx),
                    _ => DotScalar<T, TW>(0, k, w + (long)i * ldw, x + (long)r * ldx),
                };
                Put(y + (long)r * ldy + i, s, acc);
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

    private static float Dot512<T, TW>(int k, T* w, float* x) where T : unmanaged where TW : struct, IWeights<T>
    {
        var s0 = Vector512<float>.Zero; var s1 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 32 <= k; p += 32)
        {
            s0 = Vector512.FusedMultiplyAdd(TW.Load16(w + p), Vector512.Load(x + p), s0);
            s1 = Vector512.FusedMultiplyAdd(TW.Load16(w + p + 16), Vector512.Load(x + p + 16), s1);
        }
        for (; p + 16 <= k; p += 16) s0 = Vector512.FusedMultiplyAdd(TW.Load16(w + p), Vector512.Load(x + p), s0);
        return Vector512.Sum(s0 + s1) + DotScalar<T, TW>(p, k, w, x);
    }

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

    // 4 weight rows × 1 x row.
    private static void Tile4x1<T, TW>(int k, T* w, int ldw, float* x, float* y, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        T* w0 = w, w1 = w + ldw, w2 = w + 2L * ldw, w3 = w + 3L * ldw;
        var s0 = Vector512<float>.Zero; var s1 = Vector512<float>.Zero; var s2 = Vector512<float>.Zero; var s3 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var xv = Vector512.Load(x + p);
            s0 = Vector512.FusedMultiplyAdd(TW.Load16(w0 + p), xv, s0);
            s1 = Vector512.FusedMultiplyAdd(TW.Load16(w1 + p), xv, s1);
            s2 = Vector512.FusedMultiplyAdd(TW.Load16(w2 + p), xv, s2);
            s3 = Vector512.FusedMultiplyAdd(TW.Load16(w3 + p), xv, s3);
        }
        Put(y, Vector512.Sum(s0) + DotScalar<T, TW>(p, k, w0, x), acc);
        Put(y + 1, Vector512.Sum(s1) + DotScalar<T, TW>(p, k, w1, x), acc);
        Put(y + 2, Vector512.Sum(s2) + DotScalar<T, TW>(p, k, w2, x), acc);
        Put(y + 3, Vector512.Sum(s3) + DotScalar<T, TW>(p, k, w3, x), acc);
    }

    // 4 weight rows × 2 x rows.
    private static void Tile4x2<T, TW>(int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        T* w0 = w, w1 = w + ldw, w2 = w + 2L * ldw, w3 = w + 3L * ldw;
        float* x0 = x, x1 = x + ldx;
        var s00 = Vector512<float>.Zero; var s01 = Vector512<float>.Zero; var s02 = Vector512<float>.Zero; var s03 = Vector512<float>.Zero;
        var s10 = Vector512<float>.Zero; var s11 = Vector512<float>.Zero; var s12 = Vector512<float>.Zero; var s13 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var xa = Vector512.Load(x0 + p); var xb = Vector512.Load(x1 + p);
            var v0 = TW.Load16(w0 + p); s00 = Vector512.FusedMultiplyAdd(v0, xa, s00); s10 = Vector512.FusedMultiplyAdd(v0, xb, s10);
            var v1 = TW.Load16(w1 + p); s01 = Vector512.FusedMultiplyAdd(v1, xa, s01); s11 = Vector512.FusedMultiplyAdd(v1, xb, s11);
            var v2 = TW.Load16(w2 + p); s02 = Vector512.FusedMultiplyAdd(v2, xa, s02); s12 = Vector512.FusedMultiplyAdd(v2, xb, s12);
            var v3 = TW.Load16(w3 + p); s03 = Vector512.FusedMultiplyAdd(v3, xa, s03); s13 = Vector512.FusedMultiplyAdd(v3, xb, s13);
        }
        Put(y, Vector512.Sum(s00) + DotScalar<T, TW>(p, k, w0, x0), acc);
        Put(y + 1, Vector512.Sum(s01) + DotScalar<T, TW>(p, k, w1, x0), acc);
        Put(y + 2, Vector512.Sum(s02) + DotScalar<T, TW>(p, k, w2, x0), acc);
        Put(y + 3, Vector512.Sum(s03) + DotScalar<T, TW>(p, k, w3, x0), acc);
        float* yb = y + ldy;
        Put(yb, Vector512.Sum(s10) + DotScalar<T, TW>(p, k, w0, x1), acc);
        Put(yb + 1, Vector512.Sum(s11) + DotScalar<T, TW>(p, k, w1, x1), acc);
        Put(yb + 2, Vector512.Sum(s12) + DotScalar<T, TW>(p, k, w2, x1), acc);
        Put(yb + 3, Vector512.Sum(s13) + DotScalar<T, TW>(p, k, w3, x1), acc);
    }

    // 4 weight rows × 4 x rows: 16 accumulators.
    private static void Tile4x4<T, TW>(int k, T* w, int ldw, float* x, int ldx, float* y, int ldy, bool acc)
        where T : unmanaged where TW : struct, IWeights<T>
    {
        T* w0 = w, w1 = w + ldw, w2 = w + 2L * ldw, w3 = w + 3L * ldw;
        float* x0 = x, x1 = x + ldx, x2 = x + 2L * ldx, x3 = x + 3L * ldx;
        var s00 = Vector512<float>.Zero; var s01 = Vector512<float>.Zero; var s02 = Vector512<float>.Zero; var s03 = Vector512<float>.Zero;
        var s10 = Vector512<float>.Zero; var s11 = Vector512<float>.Zero; var s12 = Vector512<float>.Zero; var s13 = Vector512<float>.Zero;
        var s20 = Vector512<float>.Zero; var s21 = Vector512<float>.Zero; var s22 = Vector512<float>.Zero; var s23 = Vector512<float>.Zero;
        var s30 = Vector512<float>.Zero; var s31 = Vector512<float>.Zero; var s32 = Vector512<float>.Zero; var s33 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 16 <= k; p += 16)
        {
            var xa = Vector512.Load(x0 + p); var xb = Vector512.Load(x1 + p);
            var xc = Vector512.Load(x2 + p); var xd = Vector512.Load(x3 + p);
            var v0 = TW.Load16(w0 + p);
            s00 = Vector512.FusedMultiplyAdd(v0, xa, s00); s10 = Vector512.FusedMultiplyAdd(v0, xb, s10);
            s20 = Vector512.FusedMultiplyAdd(v0, xc, s20); s30 = Vector512.FusedMultiplyAdd(v0, xd, s30);
            var v1 = TW.Load16(w1 + p);
            s01 = Vector512.FusedMultiplyAdd(v1, xa, s01); s11 = Vector512.FusedMultiplyAdd(v1, xb, s11);
            s21 = Vector512.FusedMultiplyAdd(v1, xc, s21); s31 = Vector512.FusedMultiplyAdd(v1, xd, s31);
            var v2 = TW.Load16(w2 + p);
            s02 = Vector512.FusedMultiplyAdd(v2, xa, s02); s12 = Vector512.FusedMultiplyAdd(v2, xb, s12);
            s22 = Vector512.FusedMultiplyAdd(v2, xc, s22); s32 = Vector512.FusedMultiplyAdd(v2, xd, s32);
            var v3 = TW.Load16(w3 + p);
            s03 = Vector512.FusedMultiplyAdd(v3, xa, s03); s13 = Vector512.FusedMultiplyAdd(v3, xb, s13);
            s23 = Vector512.FusedMultiplyAdd(v3, xc, s23); s33 = Vector512.FusedMultiplyAdd(v3, xd, s33);
        }
        Row4(y, p, k, w0, w1, w2, w3, x0, s00, s01, s02, s03, acc);
        Row4(y + ldy, p, k, w0, w1, w2, w3, x1, s10, s11, s12, s13, acc);
        Row4(y + 2L * ldy, p, k, w0, w1, w2, w3, x2, s20, s21, s22, s23, acc);
        Row4(y + 3L * ldy, p, k, w0, w1, w2, w3, x3, s30, s31, s32, s33, acc);

        static void Row4(float* y, int p, int k, T* w0, T* w1, T* w2, T* w3, float* x,
            Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d, bool acc)
        {
            Put(y, Vector512.Sum(a) + DotScalar<T, TW>(p, k, w0, x), acc);
            Put(y + 1, Vector512.Sum(b) + DotScalar<T, TW>(p, k, w1, x), acc);
            Put(y + 2, Vector512.Sum(c) + DotScalar<T, TW>(p, k, w2, x), acc);
            Put(y + 3, Vector512.Sum(d) + DotScalar<T, TW>(p, k, w3, x), acc);
        }
    }
}
