// CPU kernels generic over a block format T (each format only dequantizes/quantizes one block):
//
//   DequantizeRows  dst[r − r0, :] = Ŵ[r, :]                         block by block
//   Gemv            Y[j, r] (=|+=) Σ_c X[j, c]·Ŵ[r, c]               j < m (decode)
//   QuantizeRows    blocks of row r = T.Quantize(src[r, :])           (the GGUF writer)
//
// The GEMV dequantizes one block into a stack buffer and dots it with up to four x rows while it
// is in L1 (Vector512/256 FMAs, four accumulators per x row), so each weight byte is read once per
// four x rows. Threads split the weight rows.
using System.Runtime.Intrinsics;
using PureLlama.Kernels.Simd;

namespace PureLlama.Kernels.Blocks;

/// <summary>Dequantize, fused dequant-GEMV and quantize for a block format.</summary>
internal static unsafe class BlockKernels<T> where T : struct, IBlockFormat
{
    /// <summary>Wraps raw blocks as a <see cref="BlockMatrix"/> of this format.</summary>
    public static BlockMatrix View(int rows, int cols, byte* data) => new(rows, cols, data, T.BlockValues, T.BlockBytes);

    /// <summary>dst[rows, cols] = Ŵ, multi-threaded.</summary>
    public static void Dequantize(in BlockMatrix w, float* dst)
    {
        var wc = w;
        nint d = (nint)dst;
        ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) => DequantizeRows(wc, r0, r1, (float*)d + (long)r0 * wc.Cols));
    }

    /// <summary>dst[r1 − r0, cols] = rows [r0, r1) of Ŵ, single-threaded.</summary>
    public static void DequantizeRows(in BlockMatrix w, int r0, int r1, float* dst)
    {
        int blocks = w.Cols / T.BlockValues;
        for (int r = r0; r < r1; r++)
        {
            byte* src = w.Row(r);
            float* y = dst + (long)(r - r0) * w.Cols;
            for (int b = 0; b < blocks; b++) T.Dequantize(src + (long)b * T.BlockBytes, y + (long)b * T.BlockValues);
        }
    }

    /// <summary>dst blocks [rows, cols / BlockValues] = T.Quantize of each block of src [rows, cols], multi-threaded.</summary>
    public static void QuantizeRows(float* src, int rows, int cols, byte* dst)
    {
        var w = View(rows, cols, dst);
        nint s = (nint)src, d = (nint)dst;
        int blocks = cols / T.BlockValues;
        long rowBytes = w.RowBytes;
        ParallelWork.Rows(rows, cols * 8L, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                for (int b = 0; b < blocks; b++)
                    T.Quantize((float*)s + (long)r * cols + (long)b * T.BlockValues, (byte*)d + r * rowBytes + (long)b * T.BlockBytes);
        });
    }

    /// <summary>Y[m, rows] (=|+=) X[m, cols]·Ŵᵀ; ldx ≥ cols, ldy ≥ rows. x rows are taken four at a time.</summary>
    public static void Gemv(in BlockMatrix w, int m, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if (m == 0) return;
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var wc = w;
        nint xs = (nint)x, ys = (nint)y;
        ParallelWork.Rows(w.Rows, w.Cols, (r0, r1) =>
        {
            for (int j = 0; j < m; j += 4)
                for (int r = r0; r < r1; r++)
                    Row(wc, r, Math.Min(4, m - j), (float*)xs + (long)j * ldx, ldx, (float*)ys + (long)j * ldy, ldy, accumulate);
        });
    }

    private static void Row(in BlockMatrix w, int r, int mm, float* x, int ldx, float* y, int ldy, bool accumulate)
    {
        int bv = T.BlockValues, blocks = w.Cols / bv;
        float* buf = stackalloc float[bv];
        byte* src = w.Row(r);
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        for (int b = 0; b < blocks; b++)
        {
            T.Dequantize(src + (long)b * T.BlockBytes, buf);
            long c0 = (long)b * bv;
            for (int c = 0; c < bv; c += 8)
            {
                var wv = Vector256.Load(buf + c);
                a0 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x + c0 + c), a0);
                if (mm > 1) a1 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x + ldx + c0 + c), a1);
                if (mm > 2) a2 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x + 2L * ldx + c0 + c), a2);
                if (mm > 3) a3 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x + 3L * ldx + c0 + c), a3);
            }
        }
        Span<float> s = [Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3)];
        for (int j = 0; j < mm; j++)
        {
            float* dst = y + (long)j * ldy + r;
            *dst = accumulate ? *dst + s[j] : s[j];
        }
    }
}
