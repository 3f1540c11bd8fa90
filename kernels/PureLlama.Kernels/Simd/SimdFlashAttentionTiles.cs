using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PureLlama.Kernels.Simd;

/// <summary>
/// The building blocks of the CPU FlashAttention kernels: packing rows of q/k/v/dO into F32 panels
/// (BF16 widened here, nowhere else), the two register-blocked micro-kernels, and tile masking.
///
///   ScoresTile:   C[n4, 64]  = A[n4, d] · Bᵀ  with B given transposed, Bt[d, 64]
///                 (4 rows × 64 columns in 16 Vector512 accumulators; d broadcasts of A per row).
///   AccumulateAB: C[m4, d]  += P[m4, inner] · B[inner, d]
///                 (4 rows × 64 columns per pass; P read with arbitrary row/inner strides, so Pᵀ
///                 costs nothing: the backward reads its score tiles transposed through the strides).
/// Rows are processed in fours; callers pad row counts to a multiple of 4 with zero rows.
/// </summary>
public static unsafe partial class SimdFlashAttention
{
    internal const int Skip = 0, Full = 1, Partial = 2;

    /// <summary>
    /// Classifies the tile (queries [i0, i0+nq), keys [j0, j0+nk)): <see cref="Skip"/> when no pair
    /// is visible (causal/window/segments), <see cref="Full"/> when every pair is, else <see cref="Partial"/>.
    /// Segment ranges are compared by min/max, exact for sorted (packed) ids and conservative otherwise.
    /// </summary>
    internal static int Classify(in AttentionProblem p, int i0, int nq, int j0, int nk)
    {
        int pMin = p.QueryOffset + i0, pMax = pMin + nq - 1, jMax = j0 + nk - 1;
        if (p.Causal && j0 > pMax) return Skip;
        if (p.Window > 0 && jMax <= pMin - p.Window) return Skip;
        bool full = (!p.Causal || jMax <= pMin) && (p.Window <= 0 || j0 > pMax - p.Window);
        if (p.QuerySegments != null)
        {
            int qMin = int.MaxValue, qMax = int.MinValue, kMin = int.MaxValue, kMax = int.MinValue;
            for (int i = i0; i < i0 + nq; i++) { qMin = Math.Min(qMin, p.QuerySegments[i]); qMax = Math.Max(qMax, p.QuerySegments[i]); }
            for (int j = j0; j <= jMax; j++) { kMin = Math.Min(kMin, p.KeySegments[j]); kMax = Math.Max(kMax, p.KeySegments[j]); }
            if (qMax < kMin || qMin > kMax) return Skip;
            full &= qMin == qMax && kMin == kMax && qMin == kMin;
        }
        return full ? Full : Partial;
    }

    /// <summary>Key range [lo, hi) that any query of [i0, i0+nq) can see by position (causal/window), clipped to [begin, end).</summary>
    internal static (int Lo, int Hi) KeyRange(in AttentionProblem p, int i0, int nq, int begin, int end)
    {
        int pMin = p.QueryOffset + i0, pMax = pMin + nq - 1;
        int lo = begin, hi = end;
        if (p.Causal) hi = Math.Min(hi, pMax + 1);
        if (p.Window > 0) lo = Math.Max(lo, pMin - p.Window + 1);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>Offset of block row r (query i0 + r / group, head kvh·group + r % group) in a [tokens, heads, d] tensor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long QueryRowOffset(in AttentionProblem p, int kvh, int i0, int r)
    {
        int g = p.Group;
        return ((long)(i0 + r / g) * p.Heads + kvh * g + r % g) * p.HeadDim;
    }

    /// <summary>dst[r, :] = scale·src[row r of the query block] for r &lt; rows; zero rows up to rows4. dst: [rows4, d].</summary>
    internal static void PackQueryRows<T>(T src, in AttentionProblem p, int kvh, int i0, int rows, int rows4, float scale, float* dst) where T : IFloatSource
    {
        int d = p.HeadDim;
        for (int r = 0; r < rows; r++) CopyRow(src, QueryRowOffset(p, kvh, i0, r), dst + (long)r * d, d, scale);
        new Span<float>(dst + (long)rows * d, (rows4 - rows) * d).Clear();
    }

    /// <summary>dst[c, r] = scale·src[row r of the query block, c] for r &lt; rows; zero columns up to 64. dst: [d, 64].</summary>
    internal static void PackQueryCols<T>(T src, in AttentionProblem p, int kvh, int i0, int rows, float scale, float* dst) where T : IFloatSource
    {
        int d = p.HeadDim;
        for (int r = 0; r < rows; r++)
        {
            long off = QueryRowOffset(p, kvh, i0, r);
            for (int c = 0; c < d; c++) dst[c * Tile + r] = src.Get(off + c) * scale;
        }
        if (rows < Tile)
            for (int c = 0; c < d; c++) new Span<float>(dst + c * Tile + rows, Tile - rows).Clear();
    }

    /// <summary>dst[j, :] = src[key j0 + j of KV head kvh] for j &lt; nk; zero rows up to nk4. dst: [nk4, d].</summary>
    internal static void PackKeyRows<T>(T src, in AttentionProblem p, int kvh, int j0, int nk, int nk4, float* dst) where T : IFloatSource
    {
        int d = p.HeadDim;
        long stride = (long)p.KvHeads * d, b = (long)j0 * stride + (long)kvh * d;
        for (int j = 0; j < nk; j++) CopyRow(src, b + j * stride, dst + (long)j * d, d, 1f);
        new Span<float>(dst + (long)nk * d, (nk4 - nk) * d).Clear();
    }

    /// <summary>dst[c, j] = src[key j0 + j, c] for j &lt; nk; zero columns up to 64. dst: [d, 64].</summary>
    internal static void PackKeyCols<T>(T src, in AttentionProblem p, int kvh, int j0, int nk, float* dst) where T : IFloatSource
    {
        int d = p.HeadDim;
        long stride = (long)p.KvHeads * d, b = (long)j0 * stride + (long)kvh * d;
        for (int j = 0; j < nk; j++)
            for (int c = 0; c < d; c++) dst[c * Tile + j] = src.Get(b + j * stride + c);
        if (nk < Tile)
            for (int c = 0; c < d; c++) new Span<float>(dst + c * Tile + nk, Tile - nk).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow<T>(T src, long off, float* dst, int d, float scale) where T : IFloatSource
    {
        var s16 = Vector512.Create(scale);
        int c = 0;
        for (; c + 16 <= d; c += 16) (src.Load16(off + c) * s16).Store(dst + c);
        for (; c + 8 <= d; c += 8) (src.Load8(off + c) * Vector256.Create(scale)).Store(dst + c);
    }

    /// <summary>C[n4, 64] = A[n4, d] · Bt[d, 64]; n4 a multiple of 4.</summary>
    internal static void ScoresTile(float* a, int n4, int d, float* bt, float* c)
    {
        for (int r = 0; r < n4; r += 4)
        {
            float* a0 = a + (long)r * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
            Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
            Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
            float* b = bt;
            for (int x = 0; x < d; x++, b += Tile)
            {
                var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
                var s = Vector512.Create(a0[x]);
                c00 = Vector512.FusedMultiplyAdd(s, b0, c00); c01 = Vector512.FusedMultiplyAdd(s, b1, c01); c02 = Vector512.FusedMultiplyAdd(s, b2, c02); c03 = Vector512.FusedMultiplyAdd(s, b3, c03);
                s = Vector512.Create(a1[x]);
                c10 = Vector512.FusedMultiplyAdd(s, b0, c10); c11 = Vector512.FusedMultiplyAdd(s, b1, c11); c12 = Vector512.FusedMultiplyAdd(s, b2, c12); c13 = Vector512.FusedMultiplyAdd(s, b3, c13);
                s = Vector512.Create(a2[x]);
                c20 = Vector512.FusedMultiplyAdd(s, b0, c20); c21 = Vector512.FusedMultiplyAdd(s, b1, c21); c22 = Vector512.FusedMultiplyAdd(s, b2, c22); c23 = Vector512.FusedMultiplyAdd(s, b3, c23);
                s = Vector512.Create(a3[x]);
                c30 = Vector512.FusedMultiplyAdd(s, b0, c30); c31 = Vector512.FusedMultiplyAdd(s, b1, c31); c32 = Vector512.FusedMultiplyAdd(s, b2, c32); c33 = Vector512.FusedMultiplyAdd(s, b3, c33);
            }
            float* o = c + r * Tile;
            c00.Store(o); c01.Store(o + 16); c02.Store(o + 32); c03.Store(o + 48); o += Tile;
            c10.Store(o); c11.Store(o + 16); c12.Store(o + 32); c13.Store(o + 48); o += Tile;
            c20.Store(o); c21.Store(o + 16); c22.Store(o + 32); c23.Store(o + 48); o += Tile;
            c30.Store(o); c31.Store(o + 16); c32.Store(o + 32); c33.Store(o + 48);
        }
    }

    /// <summary>
    /// C[m4, d] += P·B: C[r, :] += Σ_{j &lt; inner} P[r·pRow + j·pInner]·B[j, :]. B: [inner, d] (stride d),
    /// C: [m4, d], m4 a multiple of 4, d a multiple of 8.
    /// </summary>
    internal static void AccumulateAB(float* p, int pRow, int pInner, int m4, int inner, float* b, int d, float* c)
    {
        for (int r = 0; r < m4; r += 4)
        {
            float* p0 = p + (long)r * pRow, p1 = p0 + pRow, p2 = p1 + pRow, p3 = p2 + pRow;
            float* o0 = c + (long)r * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
            int col = 0;
            for (; col + 64 <= d; col += 64)
            {
                var c00 = Vector512.Load(o0 + col); var c01 = Vector512.Load(o0 + col + 16); var c02 = Vector512.Load(o0 + col + 32); var c03 = Vector512.Load(o0 + col + 48);
                var c10 = Vector512.Load(o1 + col); var c11 = Vector512.Load(o1 + col + 16); var c12 = Vector512.Load(o1 + col + 32); var c13 = Vector512.Load(o1 + col + 48);
                var c20 = Vector512.Load(o2 + col); var c21 = Vector512.Load(o2 + col + 16); var c22 = Vector512.Load(o2 + col + 32); var c23 = Vector512.Load(o2 + col + 48);
                var c30 = Vector512.Load(o3 + col); var c31 = Vector512.Load(o3 + col + 16); var c32 = Vector512.Load(o3 + col + 32); var c33 = Vector512.Load(o3 + col + 48);
                float* bj = b + col;
                for (int j = 0; j < inner; j++, bj += d)
                {
                    var b0 = Vector512.Load(bj); var b1 = Vector512.Load(bj + 16); var b2 = Vector512.Load(bj + 32); var b3 = Vector512.Load(bj + 48);
                    long pj = (long)j * pInner;
                    var s = Vector512.Create(p0[pj]);
                    c00 = Vector512.FusedMultiplyAdd(s, b0, c00); c01 = Vector512.FusedMultiplyAdd(s, b1, c01); c02 = Vector512.FusedMultiplyAdd(s, b2, c02); c03 = Vector512.FusedMultiplyAdd(s, b3, c03);
                    s = Vector512.Create(p1[pj]);
                    c10 = Vector512.FusedMultiplyAdd(s, b0, c10); c11 = Vector512.FusedMultiplyAdd(s, b1, c11); c12 = Vector512.FusedMultiplyAdd(s, b2, c12); c13 = Vector512.FusedMultiplyAdd(s, b3, c13);
                    s = Vector512.Create(p2[pj]);
                    c20 = Vector512.FusedMultiplyAdd(s, b0, c20); c21 = Vector512.FusedMultiplyAdd(s, b1, c21); c22 = Vector512.FusedMultiplyAdd(s, b2, c22); c23 = Vector512.FusedMultiplyAdd(s, b3, c23);
                    s = Vector512.Create(p3[pj]);
                    c30 = Vector512.FusedMultiplyAdd(s, b0, c30); c31 = Vector512.FusedMultiplyAdd(s, b1, c31); c32 = Vector512.FusedMultiplyAdd(s, b2, c32); c33 = Vector512.FusedMultiplyAdd(s, b3, c33);
                }
                c00.Store(o0 + col); c01.Store(o0 + col + 16); c02.Store(o0 + col + 32); c03.Store(o0 + col + 48);
                c10.Store(o1 + col); c11.Store(o1 + col + 16); c12.Store(o1 + col + 32); c13.Store(o1 + col + 48);
                c20.Store(o2 + col); c21.Store(o2 + col + 16); c22.Store(o2 + col + 32); c23.Store(o2 + col + 48);
                c30.Store(o3 + col); c31.Store(o3 + col + 16); c32.Store(o3 + col + 32); c33.Store(o3 + col + 48);
            }
            for (; col + 16 <= d; col += 16)
            {
                var c0 = Vector512.Load(o0 + col); var c1 = Vector512.Load(o1 + col); var c2 = Vector512.Load(o2 + col); var c3 = Vector512.Load(o3 + col);
                float* bj = b + col;
                for (int j = 0; j < inner; j++, bj += d)
                {
                    var bv = Vector512.Load(bj);
                    long pj = (long)j * pInner;
                    c0 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[pj]), bv, c0);
                    c1 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[pj]), bv, c1);
                    c2 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[pj]), bv, c2);
                    c3 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[pj]), bv, c3);
                }
                c0.Store(o0 + col); c1.Store(o1 + col); c2.Store(o2 + col); c3.Store(o3 + col);
            }
            for (; col + 8 <= d; col += 8)
            {
                var c0 = Vector256.Load(o0 + col); var c1 = Vector256.Load(o1 + col); var c2 = Vector256.Load(o2 + col); var c3 = Vector256.Load(o3 + col);
                float* bj = b + col;
                for (int j = 0; j < inner; j++, bj += d)
                {
                    var bv = Vector256.Load(bj);
                    long pj = (long)j * pInner;
                    c0 = Vector256.FusedMultiplyAdd(Vector256.Create(p0[pj]), bv, c0);
                    c1 = Vector256.FusedMultiplyAdd(Vector256.Create(p1[pj]), bv, c1);
                    c2 = Vector256.FusedMultiplyAdd(Vector256.Create(p2[pj]), bv, c2);
                    c3 = Vector256.FusedMultiplyAdd(Vector256.Create(p3[pj]), bv, c3);
                }
                c0.Store(o0 + col); c1.Store(o1 + col); c2.Store(o2 + col); c3.Store(o3 + col);
            }
        }
    }

    /// <summary>Rounds up to a multiple of 4.</summary>
    internal static int Round4(int n) => (n + 3) & ~3;
}
