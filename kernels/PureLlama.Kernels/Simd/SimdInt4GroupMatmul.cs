// INT4 group dequant-matmul on the CPU (GPTQ layout: qweight I32 [in/8, out], qzeros I32 [groups, out/8],
// scales F16 [groups, out], g_idx I32 [in]).
//
//   ŵ[o, i] = s[g, o]·(q[i, o] − z[g, o]),  g = g_idx[i],  q[i, o] = nibble i%8 of qweight[i/8, o]
//   Forward     Y[r, o] (=|+=) Σ_i X[r, i]·ŵ[o, i]      X [m, in],  Y [m, out]
//   Transposed  Y[r, i] (=|+=) Σ_o X[r, o]·ŵ[o, i]      X [m, out], Y [m, in]
//
// Decode (m ≤ 4, consecutive groups of a multiple of 8 columns): each thread streams a contiguous run of
// groups once, accumulating t[r, o] = Σ_{i∈g} X[r, i]·q[i, o] (nibbles widened in registers), then
// Y[r, o] += s[g, o]·t[r, o] − s[g, o]·z[g, o]·Σ_{i∈g} X[r, i]; per-thread partial outputs are summed in
// a fixed order. Everything else (prefill, act-order g_idx, the transposed product) dequantizes panels
// of Ŵᵀ (128 columns of it) into F32 and hands them to the F32 GEMM; Ŵ is never materialized whole.
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

/// <summary>Pointers and sizes of an INT4 group weight [rows = out, cols = in] in the GPTQ layout (host memory).</summary>
public readonly unsafe struct Int4GroupWeights
{
    /// <summary>Wraps the component pointers; <paramref name="rows"/> and <paramref name="cols"/> are multiples of 8.</summary>
    public Int4GroupWeights(int* qweight, int* qzeros, ushort* scales, int* gIdx, int rows, int cols, int groups)
    {
        if (rows <= 0 || cols <= 0 || rows % 8 != 0 || cols % 8 != 0) throw new ArgumentException($"INT4 group weight [{rows}, {cols}] must have both dims positive multiples of 8.");
        if (groups <= 0) throw new ArgumentException($"INT4 group weight needs at least one group, got {groups}.");
        QWeight = qweight; QZeros = qzeros; Scales = scales; GIdx = gIdx; Rows = rows; Cols = cols; Groups = groups;
    }

    /// <summary>I32 [cols/8, rows].</summary>
    public int* QWeight { get; }
    /// <summary>I32 [groups, rows/8].</summary>
    public int* QZeros { get; }
    /// <summary>F16 bits [groups, rows].</summary>
    public ushort* Scales { get; }
    /// <summary>I32 [cols].</summary>
    public int* GIdx { get; }
    /// <summary>Output features.</summary>
    public int Rows { get; }
    /// <summary>Input features.</summary>
    public int Cols { get; }
    /// <summary>Groups.</summary>
    public int Groups { get; }
}

/// <summary>Dequant-matmul and dequantization of <see cref="Int4GroupWeights"/> (multi-threaded SIMD).</summary>
public static unsafe class SimdInt4GroupMatmul
{
    private const int MaxGemvRows = 4, PanelColumns = 128;

    /// <summary>Y[m, out] (=|+=) X[m, in]·Ŵᵀ (rows contiguous).</summary>
    public static void Forward(in Int4GroupWeights w, int m, float* x, float* y, bool accumulate)
    {
        if (m <= 0) return;
        int width = SequentialGroupWidth(w);
        if (m <= MaxGemvRows && width > 0 && width % 8 == 0) { GemvSequential(w, m, x, y, accumulate, width); return; }
        var (s, sz) = ScalesAndOffsets(w);
        var buffer = new float[(long)w.Cols * Math.Min(PanelColumns, w.Rows)];
        fixed (float* ps = s, psz = sz, buf = buffer)
        {
            for (int o0 = 0; o0 < w.Rows; o0 += PanelColumns)
            {
                int ow = Math.Min(PanelColumns, w.Rows - o0);
                DequantizePanel(w, 0, w.Cols / 8, o0, ow, ps, psz, buf, ow);
                SimdGemm.F32(m, ow, w.Cols, x, w.Cols, false, buf, ow, false, y + o0, w.Rows, accumulate);
            }
        }
    }

    /// <summary>Y[m, in] (=|+=) X[m, out]·Ŵ (the input gradient of a frozen quantized linear).</summary>
    public static void Transposed(in Int4GroupWeights w, int m, float* x, float* y, bool accumulate)
    {
        if (m <= 0) return;
        var (s, sz) = ScalesAndOffsets(w);
        var buffer = new float[(long)Math.Min(PanelColumns, w.Cols) * w.Rows];
        fixed (float* ps = s, psz = sz, buf = buffer)
        {
            for (int i0 = 0; i0 < w.Cols; i0 += PanelColumns)
            {
                int iw = Math.Min(PanelColumns, w.Cols - i0);
                DequantizePanel(w, i0 / 8, (i0 + iw) / 8, 0, w.Rows, ps, psz, buf, w.Rows);
                SimdGemm.F32(m, iw, w.Rows, x, w.Rows, false, buf, w.Rows, true, y + i0, w.Cols, accumulate);
            }
        }
    }

    /// <summary>dst[out, in] = Ŵ.</summary>
    public static void Dequantize(in Int4GroupWeights w, float* dst)
    {
        var (s, sz) = ScalesAndOffsets(w);
        var wc = w;
        int rows = w.Rows, cols = w.Cols;
        fixed (float* ps = s, psz = sz)
        {
            float* pS = ps, pSz = psz;
            ParallelWork.ForItems(cols / 8, 8L * rows, (p0, p1) =>
            {
                var rowsBuf = new float[8 * rows]; // [8, out]: Ŵᵀ rows 8p … 8p+7
                fixed (float* buf = rowsBuf)
                    for (long p = p0; p < p1; p++)
                    {
                        DequantizePanel(wc, (int)p, (int)p + 1, 0, rows, pS, pSz, buf, rows);
                        for (int k = 0; k < 8; k++)
                            for (int o = 0; o < rows; o++) dst[(long)o * cols + 8 * p + k] = buf[k * rows + o];
                    }
            });
        }
    }

    /// <summary>
    /// The width of consecutive groups (g_idx[i] = i / width for every i), or 0 when g_idx is permuted
    /// (act-order) or irregular.
    /// </summary>
    public static int SequentialGroupWidth(in Int4GroupWeights w)
    {
        int* g = w.GIdx;
        int width = 0;
        while (width < w.Cols && g[width] == 0) width++;
        if (width == 0) return 0;
        for (int i = 0; i < w.Cols; i++) if (g[i] != i / width) return 0;
        return width;
    }

    /// <summary>s[g, o] and s[g, o]·z[g, o] as F32 [groups, out] (for the panel paths).</summary>
    private static (float[] S, float[] Sz) ScalesAndOffsets(in Int4GroupWeights w)
    {
        var s = new float[(long)w.Groups * w.Rows];
        var sz = new float[s.Length];
        var wc = w;
        fixed (float* ps = s, psz = sz)
        {
            float* pS = ps, pSz = psz;
            ParallelWork.ForItems(w.Groups, w.Rows, (g0, g1) =>
            {
                for (long g = g0; g < g1; g++) ScaleRow(wc, (int)g, pS + g * wc.Rows, pSz + g * wc.Rows);
            });
        }
        return (s, sz);
    }

    /// <summary>s[o] = scale[g, o], sz[o] = scale[g, o]·z[g, o] for every output o.</summary>
    private static void ScaleRow(in Int4GroupWeights w, int g, float* s, float* sz)
    {
        int rows = w.Rows;
        TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)(w.Scales + (long)g * rows), rows), new Span<float>(s, rows));
        int* zw = w.QZeros + (long)g * (rows / 8);
        if (Avx2.IsSupported)
        {
            var shifts = Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28);
            var mask = Vector256.Create(15u);
            for (int j = 0; j < rows / 8; j++)
            {
                var z = Avx2.ShiftRightLogicalVariable(Vector256.Create((uint)zw[j]), shifts) & mask;
                (Vector256.Load(s + 8 * j) * Vector256.ConvertToSingle(z.AsInt32())).Store(sz + 8 * j);
            }
            return;
        }
        for (int o = 0; o < rows; o++) sz[o] = s[o] * (((uint)zw[o / 8] >> (4 * (o % 8))) & 15);
    }

    /// <summary>
    /// dst[(i − 8p0)·ldd + (o − o0)] = ŵ[o, i] = s[g, o]·q[i, o] − sz[g, o] for inputs i ∈ [8p0, 8p1) and outputs
    /// o ∈ [o0, o0 + ow) (o0 and ow multiples of 8); s, sz are [groups, out]. Parallel over packed rows when large.
    /// </summary>
    private static void DequantizePanel(Int4GroupWeights w, int p0, int p1, int o0, int ow, float* s, float* sz, float* dst, int ldd)
    {
        int rows = w.Rows;
        ParallelWork.ForItems(p1 - p0, 8L * ow, (a, b) =>
        {
            var mask = Vector256.Create(15u);
            for (long p = p0 + a; p < p0 + b; p++)
            {
                uint* qrow = (uint*)w.QWeight + p * rows;
                for (int k = 0; k < 8; k++)
                {
                    long i = 8 * p + k;
                    long g = w.GIdx[i];
                    float* sg = s + g * rows, szg = sz + g * rows;
                    float* d = dst + (i - 8L * p0) * ldd;
                    for (int o = o0; o < o0 + ow; o += 8)
                    {
                        var q = Vector256.ConvertToSingle(((Vector256.Load(qrow + o) >> (4 * k)) & mask).AsInt32());
                        (Vector256.Load(sg + o) * q - Vector256.Load(szg + o)).Store(d + (o - o0));
                    }
                }
            }
        });
    }

    /// <summary>t[0..16) += Σₖ x[k]·nibble k of q[0..16) (the AVX-512 step of the decode path).</summary>
    private static void Accumulate16(uint* q16, float* t, float* x)
    {
        var mask = Vector512.Create(15u);
        var q = Vector512.Load(q16);
        var a = Vector512.Load(t);
        a += Vector512.Create(x[0]) * Vector512.ConvertToSingle((q & mask).AsInt32());
        a += Vector512.Create(x[1]) * Vector512.ConvertToSingle(((q >> 4) & mask).AsInt32());
        a += Vector512.Create(x[2]) * Vector512.ConvertToSingle(((q >> 8) & mask).AsInt32());
        a += Vector512.Create(x[3]) * Vector512.ConvertToSingle(((q >> 12) & mask).AsInt32());
        a += Vector512.Create(x[4]) * Vector512.ConvertToSingle(((q >> 16) & mask).AsInt32());
        a += Vector512.Create(x[5]) * Vector512.ConvertToSingle(((q >> 20) & mask).AsInt32());
        a += Vector512.Create(x[6]) * Vector512.ConvertToSingle(((q >> 24) & mask).AsInt32());
        a += Vector512.Create(x[7]) * Vector512.ConvertToSingle((q >> 28).AsInt32());
        a.Store(t);
    }

    /// <summary>The decode path: m ≤ 4 rows, consecutive groups of <paramref name="width"/> (a multiple of 8) columns.</summary>
    private static void GemvSequential(Int4GroupWeights w, int m, float* x, float* y, bool accumulate, int width)
    {
        int rows = w.Rows, cols = w.Cols, groups = (cols + width - 1) / width;
        int pieces = (long)rows * cols < ParallelWork.MinParallelElements ? 1 : Math.Min(groups, SimdThreading.MaxThreads);
        var partial = new float[pieces][];
        Parallel.For(0, pieces, SimdThreading.Options, piece =>
        {
            int g0 = (int)((long)groups * piece / pieces), g1 = (int)((long)groups * (piece + 1) / pieces);
            var acc = partial[piece] = new float[m * rows];   // [m, out] this piece's share of Y
            var t = new float[m * rows];                      // [m, out] Σ_{i∈g} x·q of the current group
            var sBuf = new float[rows];
            var szBuf = new float[rows];
            var xs = stackalloc float[MaxGemvRows];
            fixed (float* pAcc = acc, pt = t, ps = sBuf, psz = szBuf)
            {
                var mask = Vector256.Create(15u);
                for (int g = g0; g < g1; g++)
                {
                    int i0 = g * width, i1 = Math.Min(cols, i0 + width);
                    new Span<float>(pt, m * rows).Clear();
                    for (int r = 0; r < m; r++) xs[r] = TensorPrimitives.Sum(new ReadOnlySpan<float>(x + (long)r * cols + i0, i1 - i0));
                    for (int p = i0 / 8; p < i1 / 8; p++)
                    {
                        uint* qrow = (uint*)w.QWeight + (long)p * rows;
                        for (int r = 0; r < m; r++)
                        {
                            float* xr = x + (long)r * cols + 8 * p;
                            Vector256<float> x0 = Vector256.Create(xr[0]), x1 = Vector256.Create(xr[1]), x2 = Vector256.Create(xr[2]), x3 = Vector256.Create(xr[3]),
                                x4 = Vector256.Create(xr[4]), x5 = Vector256.Create(xr[5]), x6 = Vector256.Create(xr[6]), x7 = Vector256.Create(xr[7]);
                            float* tr = pt + r * rows;
                            int o = 0;
                            if (Vector512.IsHardwareAccelerated)
                                for (; o + 16 <= rows; o += 16) Accumulate16(qrow + o, tr + o, xr);
                            for (; o < rows; o += 8)
                            {
                                var q = Vector256.Load(qrow + o);
                                var a = Vector256.Load(tr + o);
                                a += x0 * Vector256.ConvertToSingle((q & mask).AsInt32());
                                a += x1 * Vector256.ConvertToSingle(((q >> 4) & mask).AsInt32());
                                a += x2 * Vector256.ConvertToSingle(((q >> 8) & mask).AsInt32());
                                a += x3 * Vector256.ConvertToSingle(((q >> 12) & mask).AsInt32());
                                a += x4 * Vector256.ConvertToSingle(((q >> 16) & mask).AsInt32());
                                a += x5 * Vector256.ConvertToSingle(((q >> 20) & mask).AsInt32());
                                a += x6 * Vector256.ConvertToSingle(((q >> 24) & mask).AsInt32());
                                a += x7 * Vector256.ConvertToSingle((q >> 28).AsInt32());
                                a.Store(tr + o);
                            }
                        }
                    }
                    ScaleRow(w, g, ps, psz);
                    for (int r = 0; r < m; r++)
                    {
                        var xsr = Vector256.Create(xs[r]);
                        float* tr = pt + r * rows, ar = pAcc + r * rows;
                        for (int o = 0; o < rows; o += 8)
                            (Vector256.Load(ar + o) + Vector256.Load(ps + o) * Vector256.Load(tr + o) - Vector256.Load(psz + o) * xsr).Store(ar + o);
                    }
                }
            }
        });
        long n = (long)m * rows;
        var dst = new Span<float>(y, (int)n);
        if (!accumulate) partial[0].AsSpan().CopyTo(dst);
        else TensorPrimitives.Add(dst, partial[0], dst);
        for (int piece = 1; piece < pieces; piece++) TensorPrimitives.Add(dst, partial[piece], dst);
    }
}
