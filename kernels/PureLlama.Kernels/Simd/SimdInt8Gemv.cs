// Fused INT8 dequant-GEMV for decode (a few rows of x), bandwidth-bound:
//
//   Y[j, r] (=|+=) (scb[r] / 127) · Σ_c q[r, c] · X[j, c]
//
// Threads split the weight rows; each I8 row is streamed once for up to 4 x rows. 16 (AVX-512)
// or 8 (AVX2) int8 values widen to int32 and convert to f32 in registers, then FMA against x;
// the row scale is applied once to the finished dot product.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>INT8 dequant-GEMV: Y[m, rows] = X[m, cols] · Ŵᵀ for small m (decode).</summary>
public static unsafe class SimdInt8Gemv
{
    /// <summary>Y[m, rows] (=|+=) X[m, cols] · Ŵᵀ; ldx ≥ cols, ldy ≥ rows. Any m (x rows taken 4 at a time).</summary>
    public static void Run(in Int8Matrix w, int m, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        if (!QuantGemvCommon.Prologue(m, x, y)) return;
        int isa = QuantGemvCommon.Width();
        var wc = w;
        nint xs = (nint)x, yp = (nint)y;
        ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                for (int j = 0; j < m; j += 4)
                    Row(wc, r, Math.Min(4, m - j), (float*)xs + (long)j * ldx, ldx, (float*)yp + (long)j * ldy, ldy, accumulate, isa);
        });
    }

    // 16 int8 → 16 f32.
    private static Vector512<float> Widen512(sbyte* q) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q)));

    private static void Row(in Int8Matrix w, int r, int mm, float* x, int ldx, float* y, int ldy, bool accumulate, int isa)
    {
        int cols = w.Cols, c = 0;
        sbyte* q = w.Values + (long)r * cols;
        float* x0 = x, x1 = mm > 1 ? x + ldx : x, x2 = mm > 2 ? x + 2L * ldx : x, x3 = mm > 3 ? x + 3L * ldx : x;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (isa == 512)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            if (mm == 1)
            {
                // One x row: four independent chains over 64 columns, so the FMA latency does not bound the stream.
                for (; c + 64 <= cols; c += 64)
                {
                    a0 = Avx512F.FusedMultiplyAdd(Widen512(q + c), Vector512.Load(x0 + c), a0);
                    a1 = Avx512F.FusedMultiplyAdd(Widen512(q + c + 16), Vector512.Load(x0 + c + 16), a1);
                    a2 = Avx512F.FusedMultiplyAdd(Widen512(q + c + 32), Vector512.Load(x0 + c + 32), a2);
                    a3 = Avx512F.FusedMultiplyAdd(Widen512(q + c + 48), Vector512.Load(x0 + c + 48), a3);
                }
                a0 = (a0 + a1) + (a2 + a3);
                a1 = a2 = a3 = default;
            }
            for (; c + 16 <= cols; c += 16)
            {
                var wv = Widen512(q + c);
                a0 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x0 + c), a0);
                if (mm > 1)
                {
                    a1 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x1 + c), a1);
                    a2 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x2 + c), a2);
                    a3 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x3 + c), a3);
                }
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
        }
        else if (isa == 256)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            if (mm == 1)
            {
                for (; c + 32 <= cols; c += 32)
                {
                    a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + c)), Vector256.Load(x0 + c), a0);
                    a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + c + 8)), Vector256.Load(x0 + c + 8), a1);
                    a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + c + 16)), Vector256.Load(x0 + c + 16), a2);
                    a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + c + 24)), Vector256.Load(x0 + c + 24), a3);
                }
                a0 = (a0 + a1) + (a2 + a3);
                a1 = a2 = a3 = default;
            }
            for (; c + 8 <= cols; c += 8)
            {
                var wv = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + c));
                a0 = Fma.MultiplyAdd(wv, Vector256.Load(x0 + c), a0);
                if (mm > 1)
                {
                    a1 = Fma.MultiplyAdd(wv, Vector256.Load(x1 + c), a1);
                    a2 = Fma.MultiplyAdd(wv, Vector256.Load(x2 + c), a2);
                    a3 = Fma.MultiplyAdd(wv, Vector256.Load(x3 + c), a3);
                }
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        for (; c < cols; c++)
        {
            float wv = q[c];
            s0 += wv * x0[c]; s1 += wv * x1[c]; s2 += wv * x2[c]; s3 += wv * x3[c];
        }
        QuantGemvCommon.Store(y, ldy, r, mm, accumulate, w.RowScale(r), s0, s1, s2, s3);
    }
}
