// Fused NF4 dequant-GEMV for decode (a few rows of x), bandwidth-bound:
//
//   Y[j, r] (=|+=) Σ_c Ŵ[r, c] · X[j, c],   Ŵ[r, c] = map[nibble(r·cols + c)] · absmax(block)
//
// Threads split the weight rows; each packed row (cols/2 bytes) is streamed once and used for up
// to 4 x rows at a time. Fast path (every row starts a block: cols % B == 0, B % 32 == 0): x is
// first rearranged once per call so that, in every group of 32 columns, the 16 even columns come
// before the 16 odd ones ("nibble order"). Then 16 packed bytes widen to 16 int32 lanes; the
// lanes shifted right by 4 (high nibbles = even columns) and the raw lanes (the permute reads
// only the low 4 index bits = odd columns) each look up, with one register permute, the 16 codes
// pre-multiplied by the block's absmax (decoded from its 8-bit code when double-quantized: one
// table lookup and one vector multiply per block) and FMA against the matching half of x — no
// interleave needed.
// On AVX-512, weights with cols % 128 == 0 and B % 64 == 0 (all real shapes) go to Nf4Gemv512
// (one 64-byte load per 128 codes, no per-32-column widening); this path serves the rest.
// AVX2: the 16-code lookup is two 8-entry permutes and a blend on bit 3. Other shapes take a
// scalar path that walks block segments, so blocks crossing row ends are handled exactly.
using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>NF4 dequant-GEMV: Y[m, rows] = X[m, cols] · Ŵᵀ for small m (decode).</summary>
public static unsafe class SimdNf4Gemv
{
    /// <summary>Y[m, rows] (=|+=) X[m, cols] · Ŵᵀ; ldx ≥ cols, ldy ≥ rows. Any m (x rows taken 4 at a time).</summary>
    public static void Run(in Nf4Matrix w, int m, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        if (!QuantGemvCommon.Prologue(m, x, y)) return;
        int isa = QuantGemvCommon.Width();
        var wc = w;
        nint yp = (nint)y;
        if (isa == 0 || !w.RowAligned)
        {
            nint xs = (nint)x;
            ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) => General(wc, r0, r1, m, (float*)xs, ldx, (float*)yp, ldy, accumulate));
            return;
        }
        int cols = w.Cols;
        var pool = ArrayPool<float>.Shared.Rent(m * cols);
        try
        {
            fixed (float* xp = pool)
            {
                if (isa == 512 && SimdNf4Gemv512.Fits(w))
                {
                    SimdNf4Gemv512.ToStride8Order(m, cols, x, ldx, xp);                     // [m, cols] permuted
                    SimdNf4Gemv512.Run(w, m, xp, y, ldy, accumulate);
                    return;
                }
                ToNibbleOrder(m, cols, x, ldx, xp);                                  // [m, cols] permuted
                nint xs = (nint)xp;
                ParallelWork.Rows(w.Rows, cols, (r0, r1) =>
                {
                    for (int j = 0; j < m; j += 4)
                    {
                        int mm = Math.Min(4, m - j);
                        float* xj = (float*)xs + (long)j * cols, yj = (float*)yp + (long)j * ldy;
                        if (isa == 512) Rows512(wc, r0, r1, mm, xj, yj, ldy, accumulate);
                        else Rows256(wc, r0, r1, mm, xj, yj, ldy, accumulate);
                    }
                });
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pool);
        }
    }

    // dst[j, g·32 + i] = x[j, g·32 + 2i], dst[j, g·32 + 16 + i] = x[j, g·32 + 2i + 1]   (i < 16)
    private static void ToNibbleOrder(int m, int cols, float* x, int ldx, float* dst)
    {
        for (int j = 0; j < m; j++)
        {
            float* s = x + (long)j * ldx, d = dst + (long)j * cols;
            for (int g = 0; g < cols; g += 32)
                for (int i = 0; i < 16; i++)
                {
                    d[g + i] = s[g + 2 * i];
                    d[g + 16 + i] = s[g + 2 * i + 1];
                }
        }
    }

    // mm ≤ 4 x rows (nibble order, row stride cols); unused rows alias row 0 and are not stored.
    private static void Rows512(in Nf4Matrix w, int r0, int r1, int mm, float* x, float* y, int ldy, bool accumulate)
    {
        int cols = w.Cols, bs = w.BlockSize;
        var table = Vector512.Load(w.Map);
        float* x0 = x, x1 = mm > 1 ? x + cols : x, x2 = mm > 2 ? x + 2L * cols : x, x3 = mm > 3 ? x + 3L * cols : x;
        for (int r = r0; r < r1; r++)
        {
            byte* p = w.Packed + (long)r * cols / 2;
            long b = (long)r * cols / bs;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a0b = default;
            for (int c0 = 0; c0 < cols; c0 += bs, b++)
            {
                var scaled = table * Vector512.Create(w.BlockAbsmax(b));                // the 16 codes × absmax
                for (int c = c0; c < c0 + bs; c += 32)
                {
                    var lanes = Avx512F.ConvertToVector512Int32(Vector128.Load(p + c / 2));
                    var even = Avx512F.PermuteVar16x32(scaled, Avx512F.ShiftRightLogical(lanes, 4));
                    var odd = Avx512F.PermuteVar16x32(scaled, lanes);
                    a0 = Avx512F.FusedMultiplyAdd(even, Vector512.Load(x0 + c), a0);
                    a0b = Avx512F.FusedMultiplyAdd(odd, Vector512.Load(x0 + c + 16), a0b);
                    if (mm > 1)
                    {
                        a1 = Avx512F.FusedMultiplyAdd(even, Vector512.Load(x1 + c), a1);
                        a1 = Avx512F.FusedMultiplyAdd(odd, Vector512.Load(x1 + c + 16), a1);
                        a2 = Avx512F.FusedMultiplyAdd(even, Vector512.Load(x2 + c), a2);
                        a2 = Avx512F.FusedMultiplyAdd(odd, Vector512.Load(x2 + c + 16), a2);
                        a3 = Avx512F.FusedMultiplyAdd(even, Vector512.Load(x3 + c), a3);
                        a3 = Avx512F.FusedMultiplyAdd(odd, Vector512.Load(x3 + c + 16), a3);
                    }
                }
            }
            QuantGemvCommon.Store(y, ldy, r, mm, accumulate, 1f, Vector512.Sum(a0 + a0b), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3));
        }
    }

    private static void Rows256(in Nf4Matrix w, int r0, int r1, int mm, float* x, float* y, int ldy, bool accumulate)
    {
        int cols = w.Cols, bs = w.BlockSize;
        var lo = Vector256.Load(w.Map);
        var hi = Vector256.Load(w.Map + 8);
        float* x0 = x, x1 = mm > 1 ? x + cols : x, x2 = mm > 2 ? x + 2L * cols : x, x3 = mm > 3 ? x + 3L * cols : x;
        for (int r = r0; r < r1; r++)
        {
            byte* p = w.Packed + (long)r * cols / 2;
            long b = (long)r * cols / bs;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int c0 = 0; c0 < cols; c0 += bs, b++)
            {
                var s = Vector256.Create(w.BlockAbsmax(b));
                Vector256<float> slo = lo * s, shi = hi * s;                              // the 16 codes × absmax
                for (int c = c0; c < c0 + bs; c += 32)
                {
                    var la = Avx2.ConvertToVector256Int32(p + c / 2);                   // columns c .. c+15
                    var lb = Avx2.ConvertToVector256Int32(p + c / 2 + 8);               // columns c+16 .. c+31
                    // nibble order: x[c..c+8) ↔ even(la), [c+8..c+16) ↔ even(lb), [c+16..) ↔ odd(la), [c+24..) ↔ odd(lb)
                    var w0 = Lookup(slo, shi, Avx2.ShiftRightLogical(la, 4));
                    var w1 = Lookup(slo, shi, Avx2.ShiftRightLogical(lb, 4));
                    var w2 = Lookup(slo, shi, la);
                    var w3 = Lookup(slo, shi, lb);
                    a0 = Dot4(w0, w1, w2, w3, x0 + c, a0);
                    if (mm > 1)
                    {
                        a1 = Dot4(w0, w1, w2, w3, x1 + c, a1);
                        a2 = Dot4(w0, w1, w2, w3, x2 + c, a2);
                        a3 = Dot4(w0, w1, w2, w3, x3 + c, a3);
                    }
                }
            }
            QuantGemvCommon.Store(y, ldy, r, mm, accumulate, 1f, Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
        }
    }

    // 16-entry lookup with 8-entry permutes: bit 3 of the index (moved to the sign bit) picks the table half.
    private static Vector256<float> Lookup(Vector256<float> lo, Vector256<float> hi, Vector256<int> idx) =>
        Avx.BlendVariable(Avx2.PermuteVar8x32(lo, idx), Avx2.PermuteVar8x32(hi, idx), Avx2.ShiftLeftLogical(idx, 28).AsSingle());

    private static Vector256<float> Dot4(Vector256<float> w0, Vector256<float> w1, Vector256<float> w2, Vector256<float> w3, float* x, Vector256<float> acc)
    {
        acc = Fma.MultiplyAdd(w0, Vector256.Load(x), acc);
        acc = Fma.MultiplyAdd(w1, Vector256.Load(x + 8), acc);
        acc = Fma.MultiplyAdd(w2, Vector256.Load(x + 16), acc);
        return Fma.MultiplyAdd(w3, Vector256.Load(x + 24), acc);
    }

    // Any shape: walk each row's block segments (blocks may start mid-row), scalar.
    private static void General(in Nf4Matrix w, int r0, int r1, int m, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        int cols = w.Cols;
        for (int r = r0; r < r1; r++)
            for (int j = 0; j < m; j++)
            {
                float* xj = x + (long)j * ldx;
                long e0 = (long)r * cols, e = e0, e1 = e0 + cols;
                float sum = 0;
                while (e < e1)
                {
                    long b = e / w.BlockSize, end = Math.Min(e1, (b + 1) * w.BlockSize);
                    float part = 0;
                    for (; e < end; e++)
                    {
                        int v = w.Packed[e >> 1];
                        part += w.Map[(e & 1) == 0 ? v >> 4 : v & 15] * xj[e - e0];
                    }
                    sum += part * w.BlockAbsmax(b);
                }
                float* dst = y + (long)j * ldy + r;
                *dst = accumulate ? *dst + sum : sum;
            }
    }
}
