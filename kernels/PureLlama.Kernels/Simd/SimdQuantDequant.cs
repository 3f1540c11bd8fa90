// Dequantization of packed weights into F32, used whole (IBackend.Dequantize) and panel by panel
// (QuantGemm feeds the dense GEMM with L2-sized F32 tiles of Ŵ):
//
//   NF4   dst[e − e0] = map[nibble(e)] · absmax(e / B)        for e in [e0, e1)   (flat row-major index)
//   INT8  dst[r − r0, c] = q[r, c] · scb[r] / 127            for r in [r0, r1)
//
// NF4 vector path (AVX-512): 16 packed bytes → 16 int32 lanes (vpmovzxbd); the high nibbles
// (v >> 4) and the raw lanes (vpermps reads only the low 4 index bits, so no mask) index a
// register holding the 16 codes; vpermt2ps interleaves the two into element order; × absmax.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>Dequantizes NF4 and INT8 weights (whole or by rows) to F32, multi-threaded SIMD.</summary>
public static unsafe class SimdQuantDequant
{
    /// <summary>dst[rows, cols] = Ŵ (NF4).</summary>
    public static void Nf4(in Nf4Matrix w, float* dst)
    {
        var wc = w;
        nint d = (nint)dst;
        ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) => Nf4Rows(wc, r0, r1, (float*)d + (long)r0 * wc.Cols));
    }

    /// <summary>dst[rows, cols] = Ŵ (INT8).</summary>
    public static void Int8(in Int8Matrix w, float* dst)
    {
        var wc = w;
        nint d = (nint)dst;
        ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) => Int8Rows(wc, r0, r1, (float*)d + (long)r0 * wc.Cols));
    }

    /// <summary>dst[r1 − r0, cols] = rows [r0, r1) of Ŵ (NF4), single-threaded.</summary>
    public static void Nf4Rows(in Nf4Matrix w, int r0, int r1, float* dst) =>
        Nf4Range(w, (long)r0 * w.Cols, (long)r1 * w.Cols, dst);

    /// <summary>dst[e1 − e0] = Ŵ at flat indices [e0, e1) (NF4), single-threaded.</summary>
    public static void Nf4Range(in Nf4Matrix w, long e0, long e1, float* dst)
    {
        long e = e0;
        if (Avx512F.IsSupported && GemmIsa.Current == GemmSimdLevel.Vector512 && w.BlockSize % 32 == 0)
        {
            long head = Math.Min(e1, (e + 31) & ~31L);
            ScalarRange(w, e, head, dst);
            dst += head - e;
            e = head;
            var table = Vector512.Load(w.Map);
            var first = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var second = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            for (; e + 32 <= e1; e += 32, dst += 32)
            {
                var a = Vector512.Create(w.BlockAbsmax(e / w.BlockSize));
                var lanes = Avx512F.ConvertToVector512Int32(Vector128.Load(w.Packed + (e >> 1)));   // [16] bytes
                var hi = Avx512F.PermuteVar16x32(table, Avx512F.ShiftRightLogical(lanes, 4));    // elements e, e+2, …
                var lo = Avx512F.PermuteVar16x32(table, lanes);                                   // elements e+1, e+3, …
                (Avx512F.PermuteVar16x32x2(hi, first, lo) * a).Store(dst);
                (Avx512F.PermuteVar16x32x2(hi, second, lo) * a).Store(dst + 16);
            }
        }
        ScalarRange(w, e, e1, dst);
    }

    /// <summary>dst[r1 − r0, cols] = rows [r0, r1) of Ŵ (INT8), single-threaded.</summary>
    public static void Int8Rows(in Int8Matrix w, int r0, int r1, float* dst)
    {
        int cols = w.Cols;
        bool v512 = Avx512F.IsSupported && GemmIsa.Current == GemmSimdLevel.Vector512;
        for (int r = r0; r < r1; r++, dst += cols)
        {
            float s = w.RowScale(r);
            sbyte* q = w.Values + (long)r * cols;
            int c = 0;
            if (v512)
            {
                var sv = Vector512.Create(s);
                for (; c + 16 <= cols; c += 16)
                    (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + c))) * sv).Store(dst + c);
            }
            for (; c < cols; c++) dst[c] = q[c] * s;
        }
    }

    private static void ScalarRange(in Nf4Matrix w, long e, long e1, float* dst)
    {
        while (e < e1)
        {
            long b = e / w.BlockSize, end = Math.Min(e1, (b + 1) * w.BlockSize);
            float a = w.BlockAbsmax(b);
            for (; e < end; e++)
            {
                int v = w.Packed[e >> 1];
                *dst++ = w.Map[(e & 1) == 0 ? v >> 4 : v & 15] * a;
            }
        }
    }
}
