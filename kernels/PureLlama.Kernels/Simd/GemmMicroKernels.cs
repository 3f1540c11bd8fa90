// Register-tiled micro-kernels of the blocked GEMM (see SimdGemm.cs for the loops around them).
//
//   C[MR, NR] (=|+=) Σ_{p<kc} Ap[p, 0..MR) ⊗ Bp[p, 0..NR)
//
// Ap / Bp are packed panels (MatmulPacking.cs): step p holds MR floats of A, then NR floats of B.
// Per step: load NR/W vectors of B, broadcast each of the MR A values, and issue MR·NR/W FMAs
// into MR·NR/W accumulators that live in registers for the whole kc loop. Vector512 tile:
// 8 rows × 32 columns = 16 zmm accumulators + 2 B vectors + 1 broadcast (of 32 zmm registers).
// The k loop is unrolled by hand (the JIT does not unroll). load = false stores, true adds to C.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

internal static unsafe class GemmMicroKernels
{
    /// <summary>8×32 tile: C[8,32] (=|+=) Σ_p Ap[p,0..8) ⊗ Bp[p,0..32) on Vector512.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile512(int kc, float* a, float* b, float* c, long ldc, bool load)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            {
                var b0 = Vector512.Load(b + 0);
                var b1 = Vector512.Load(b + 16);
                var a0 = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
                var a4 = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(a4, b0, c40); c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
                var a5 = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(a5, b0, c50); c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
                var a6 = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(a6, b0, c60); c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
                var a7 = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(a7, b0, c70); c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
            }
            {
                var b0 = Vector512.Load(b + 32);
                var b1 = Vector512.Load(b + 48);
                var a0 = Vector512.Create(a[8]); c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector512.Create(a[9]); c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector512.Create(a[10]); c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector512.Create(a[11]); c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
                var a4 = Vector512.Create(a[12]); c40 = Vector512.FusedMultiplyAdd(a4, b0, c40); c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
                var a5 = Vector512.Create(a[13]); c50 = Vector512.FusedMultiplyAdd(a5, b0, c50); c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
                var a6 = Vector512.Create(a[14]); c60 = Vector512.FusedMultiplyAdd(a6, b0, c60); c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
                var a7 = Vector512.Create(a[15]); c70 = Vector512.FusedMultiplyAdd(a7, b0, c70); c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
            }
            a += 16; b += 64;
        }
        for (; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(a4, b0, c40); c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(a5, b0, c50); c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(a6, b0, c60); c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(a7, b0, c70); c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
            a += 8; b += 32;
        }
        if (load)
        {
            Vector512.Store(c00 + Vector512.Load(c + 0 * ldc + 0), c + 0 * ldc + 0); Vector512.Store(c01 + Vector512.Load(c + 0 * ldc + 16), c + 0 * ldc + 16);
            Vector512.Store(c10 + Vector512.Load(c + 1 * ldc + 0), c + 1 * ldc + 0); Vector512.Store(c11 + Vector512.Load(c + 1 * ldc + 16), c + 1 * ldc + 16);
            Vector512.Store(c20 + Vector512.Load(c + 2 * ldc + 0), c + 2 * ldc + 0); Vector512.Store(c21 + Vector512.Load(c + 2 * ldc + 16), c + 2 * ldc + 16);
            Vector512.Store(c30 + Vector512.Load(c + 3 * ldc + 0), c + 3 * ldc + 0); Vector512.Store(c31 + Vector512.Load(c + 3 * ldc + 16), c + 3 * ldc + 16);
            Vector512.Store(c40 + Vector512.Load(c + 4 * ldc + 0), c + 4 * ldc + 0); Vector512.Store(c41 + Vector512.Load(c + 4 * ldc + 16), c + 4 * ldc + 16);
            Vector512.Store(c50 + Vector512.Load(c + 5 * ldc + 0), c + 5 * ldc + 0); Vector512.Store(c51 + Vector512.Load(c + 5 * ldc + 16), c + 5 * ldc + 16);
            Vector512.Store(c60 + Vector512.Load(c + 6 * ldc + 0), c + 6 * ldc + 0); Vector512.Store(c61 + Vector512.Load(c + 6 * ldc + 16), c + 6 * ldc + 16);
            Vector512.Store(c70 + Vector512.Load(c + 7 * ldc + 0), c + 7 * ldc + 0); Vector512.Store(c71 + Vector512.Load(c + 7 * ldc + 16), c + 7 * ldc + 16);
        }
        else
        {
            Vector512.Store(c00, c + 0 * ldc + 0); Vector512.Store(c01, c + 0 * ldc + 16);
            Vector512.Store(c10, c + 1 * ldc + 0); Vector512.Store(c11, c + 1 * ldc + 16);
            Vector512.Store(c20, c + 2 * ldc + 0); Vector512.Store(c21, c + 2 * ldc + 16);
            Vector512.Store(c30, c + 3 * ldc + 0); Vector512.Store(c31, c + 3 * ldc + 16);
            Vector512.Store(c40, c + 4 * ldc + 0); Vector512.Store(c41, c + 4 * ldc + 16);
            Vector512.Store(c50, c + 5 * ldc + 0); Vector512.Store(c51, c + 5 * ldc + 16);
            Vector512.Store(c60, c + 6 * ldc + 0); Vector512.Store(c61, c + 6 * ldc + 16);
            Vector512.Store(c70, c + 7 * ldc + 0); Vector512.Store(c71, c + 7 * ldc + 16);
        }
    }

    /// <summary>6×16 tile: C[6,16] (=|+=) Σ_p Ap[p,0..6) ⊗ Bp[p,0..16) on Vector256.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile256(int kc, float* a, float* b, float* c, long ldc, bool load)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            {
                var b0 = Vector256.Load(b + 0);
                var b1 = Vector256.Load(b + 8);
                var a0 = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
                var a4 = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(a4, b0, c40); c41 = Vector256.FusedMultiplyAdd(a4, b1, c41);
                var a5 = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(a5, b0, c50); c51 = Vector256.FusedMultiplyAdd(a5, b1, c51);
            }
            {
                var b0 = Vector256.Load(b + 16);
                var b1 = Vector256.Load(b + 24);
                var a0 = Vector256.Create(a[6]); c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector256.Create(a[7]); c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector256.Create(a[8]); c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector256.Create(a[9]); c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
                var a4 = Vector256.Create(a[10]); c40 = Vector256.FusedMultiplyAdd(a4, b0, c40); c41 = Vector256.FusedMultiplyAdd(a4, b1, c41);
                var a5 = Vector256.Create(a[11]); c50 = Vector256.FusedMultiplyAdd(a5, b0, c50); c51 = Vector256.FusedMultiplyAdd(a5, b1, c51);
            }
            a += 12; b += 32;
        }
        for (; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(a4, b0, c40); c41 = Vector256.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(a5, b0, c50); c51 = Vector256.FusedMultiplyAdd(a5, b1, c51);
            a += 6; b += 16;
        }
        if (load)
        {
            Vector256.Store(c00 + Vector256.Load(c + 0 * ldc + 0), c + 0 * ldc + 0); Vector256.Store(c01 + Vector256.Load(c + 0 * ldc + 8), c + 0 * ldc + 8);
            Vector256.Store(c10 + Vector256.Load(c + 1 * ldc + 0), c + 1 * ldc + 0); Vector256.Store(c11 + Vector256.Load(c + 1 * ldc + 8), c + 1 * ldc + 8);
            Vector256.Store(c20 + Vector256.Load(c + 2 * ldc + 0), c + 2 * ldc + 0); Vector256.Store(c21 + Vector256.Load(c + 2 * ldc + 8), c + 2 * ldc + 8);
            Vector256.Store(c30 + Vector256.Load(c + 3 * ldc + 0), c + 3 * ldc + 0); Vector256.Store(c31 + Vector256.Load(c + 3 * ldc + 8), c + 3 * ldc + 8);
            Vector256.Store(c40 + Vector256.Load(c + 4 * ldc + 0), c + 4 * ldc + 0); Vector256.Store(c41 + Vector256.Load(c + 4 * ldc + 8), c + 4 * ldc + 8);
            Vector256.Store(c50 + Vector256.Load(c + 5 * ldc + 0), c + 5 * ldc + 0); Vector256.Store(c51 + Vector256.Load(c + 5 * ldc + 8), c + 5 * ldc + 8);
        }
        else
        {
            Vector256.Store(c00, c + 0 * ldc + 0); Vector256.Store(c01, c + 0 * ldc + 8);
            Vector256.Store(c10, c + 1 * ldc + 0); Vector256.Store(c11, c + 1 * ldc + 8);
            Vector256.Store(c20, c + 2 * ldc + 0); Vector256.Store(c21, c + 2 * ldc + 8);
            Vector256.Store(c30, c + 3 * ldc + 0); Vector256.Store(c31, c + 3 * ldc + 8);
            Vector256.Store(c40, c + 4 * ldc + 0); Vector256.Store(c41, c + 4 * ldc + 8);
            Vector256.Store(c50, c + 5 * ldc + 0); Vector256.Store(c51, c + 5 * ldc + 8);
        }
    }

    /// <summary>4×4 scalar tile (no-SIMD fallback).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TileScalar(int kc, float* a, float* b, float* c, long ldc, bool load)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++, a += 4, b += 4)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0]; c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            float a1 = a[1]; c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            float a2 = a[2]; c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            float a3 = a[3]; c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        }
        Put(c, load, c00, c01, c02, c03);
        Put(c + ldc, load, c10, c11, c12, c13);
        Put(c + 2 * ldc, load, c20, c21, c22, c23);
        Put(c + 3 * ldc, load, c30, c31, c32, c33);
    }

    private static void Put(float* row, bool load, float x0, float x1, float x2, float x3)
    {
        if (load) { row[0] += x0; row[1] += x1; row[2] += x2; row[3] += x3; }
        else { row[0] = x0; row[1] = x1; row[2] = x2; row[3] = x3; }
    }
}
