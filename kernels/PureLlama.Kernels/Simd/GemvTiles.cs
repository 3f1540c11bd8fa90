// Row-invariant tiles of Gemv (see GemvKernels.cs): R x rows × C weight rows, every output exactly Dot512's bits.
//
//   Dot512(w, x) = Sum((s0 + s1) + (s2 + s3)) + Σ_scalar over columns k32 … k − 1 (k32 = k rounded down to 32)
//   chain c:  s_c = Σ over p = 0, 64, 128, … with p + 32(⌊c/2⌋ + 1) ≤ k, in that order, of  W_c(p) · x'(p + 16c)
//   (W_c(p): the 16 weights of chain c in the 64 columns at p — bf16: the even (c even) or odd (c odd) columns of the 32
//   at p + 32⌊c/2⌋, matched by x' permuted the same way; f32: columns p + 16c … p + 16c + 15.)
//
// The four chains are independent sums, so a tile runs them one after the other (four passes over its k columns) and
// needs R·C accumulators instead of 4·R·C: an 8 × 3 tile holds 24, and per 16 columns one weight vector (loaded and
// widened once) feeds 8 FMAs and one x vector 3 — 11 loads and 3 widenings for 24 FMAs, against 16 loads and 4
// widenings per 12 FMAs in a 3 × 2 tile of whole Dot512s. Each weight cache line is read by two passes (chains 0, 1 read
// the first 64 bytes of every 128, chains 2, 3 the second), the second time from L1/L2; every pass step prefetches C
// cache lines of what follows the tile in memory (the next tile's rows), one sequential sweep over the four passes. The x
// rows of a tile are packed once per call as [16-column group][row][16] (PackX), so a pass reads them at fixed offsets
// from one pointer.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PureLlama.Kernels.Simd;

internal static unsafe class GemvTiles
{
    /// <summary>A small count fixed at JIT time (tile rows, tile columns, chain parity).</summary>
    internal interface ICount { static abstract int N { get; } }
    internal struct N0 : ICount { public static int N => 0; }
    internal struct N1 : ICount { public static int N => 1; }
    internal struct N2 : ICount { public static int N => 2; }
    internal struct N3 : ICount { public static int N => 3; }
    internal struct N4 : ICount { public static int N => 4; }
    internal struct N5 : ICount { public static int N => 5; }
    internal struct N6 : ICount { public static int N => 6; }
    internal struct N7 : ICount { public static int N => 7; }
    internal struct N8 : ICount { public static int N => 8; }

    /// <summary>Most x rows in a tile; x rows are tiled in this many, the last tile of a call takes the rest.</summary>
    internal const int MaxRows = 8;

    /// <summary>Weight rows handled together: every tile width below divides it, so a chunk leaves no remainder but the last.</summary>
    internal const int WeightChunk = 12;

    /// <summary>Accumulator slots per chain in the stash (MaxRows × 6 weight rows).</summary>
    internal const int StashPerChain = MaxRows * 6;

    /// <summary>Floats of the packed x of m rows (k32 columns each).</summary>
    internal static long PackedLength(int m, int k) => (long)m * (k & ~31);

    /// <summary>
    /// Packs the first k32 columns of x's m rows for the tiles: rows in tiles of MaxRows (the last one the rest), each
    /// tile at r0·k32 as [16-column group g][row r][16 lanes]; bf16 (interleaved) weights get each 32 columns as 16 even
    /// then 16 odd ones, the order Bf16Weights.Load16 produces.
    /// </summary>
    internal static void PackX(int m, int k, float* x, long ldx, float* dst, bool interleaved)
    {
        int k32 = k & ~31;
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        for (int r0 = 0; r0 < m; r0 += MaxRows)
        {
            int rows = Math.Min(MaxRows, m - r0);
            float* tile = dst + (long)r0 * k32;
            for (int r = 0; r < rows; r++)
            {
                float* src = x + (long)(r0 + r) * ldx, d = tile + r * 16;
                long groupStride = rows * 16;
                for (int p = 0; p < k32; p += 32, d += 2 * groupStride)
                {
                    var lo = Vector512.Load(src + p);
                    var hi = Vector512.Load(src + p + 16);
                    if (interleaved)
                    {
                        Avx512F.PermuteVar16x32x2(lo, even, hi).Store(d);
                        Avx512F.PermuteVar16x32x2(lo, odd, hi).Store(d + groupStride);
                    }
                    else
                    {
                        lo.Store(d);
                        hi.Store(d + groupStride);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Y[r0 + r, i + j] (=|+=) Dot512(W row i + j, x row r0 + r) for the tile of `rows` x rows starting at r0 and the
    /// weight rows [i, i1): tiles as wide as keep ≤ 24 accumulators (8, 7 rows: 3; 6, 5: 4; 4 … 1: 6, the most the
    /// generated pass has), then 1 wide for the rest. stash: 4·StashPerChain vectors of scratch.
    /// </summary>
    internal static void Run<T, TW>(int rows, int i, int i1, int r0, int k, T* w, int ldw, float* xPacked, float* x, int ldx,
        float* y, int ldy, bool acc, Vector512<float>* stash)
        where T : unmanaged where TW : struct, GemvKernels.IWeights<T>
    {
        switch (rows)
        {
            case 8: Widths<T, TW, N8, N3>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            case 7: Widths<T, TW, N7, N3>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            case 6: Widths<T, TW, N6, N4>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            case 5: Widths<T, TW, N5, N4>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            case 4: Widths<T, TW, N4, N6>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            case 3: Widths<T, TW, N3, N6>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            case 2: Widths<T, TW, N2, N6>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            case 1: Widths<T, TW, N1, N6>(i, i1, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, $"A tile has 1 to {MaxRows} x rows.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Widths<T, TW, TR, TC>(int i, int i1, int r0, int k, T* w, int ldw, float* xPacked, float* x, int ldx,
        float* y, int ldy, bool acc, Vector512<float>* stash)
        where T : unmanaged where TW : struct, GemvKernels.IWeights<T> where TR : struct, ICount where TC : struct, ICount
    {
        for (; i + TC.N <= i1; i += TC.N) Tile<T, TW, TR, TC>(i, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash);
        for (; i < i1; i++) Tile<T, TW, TR, N1>(i, r0, k, w, ldw, xPacked, x, ldx, y, ldy, acc, stash);
    }

    // One tile: the four chain passes into the stash, then each output's Dot512 combination and scalar tail.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<T, TW, TR, TC>(int i, int r0, int k, T* w, int ldw, float* xPacked, float* x, int ldx,
        float* y, int ldy, bool acc, Vector512<float>* stash)
        where T : unmanaged where TW : struct, GemvKernels.IWeights<T> where TR : struct, ICount where TC : struct, ICount
    {
        int k32 = k & ~31;
        long endLo = k >= 32 ? ((k - 32) / 64 + 1) * 64L : 0;   // chains 0, 1: every p with p + 32 ≤ k
        long endHi = k >= 64 ? ((k - 64) / 64 + 1) * 64L : 0;   // chains 2, 3: every p with p + 64 ≤ k
        T* wt = w + (long)i * ldw;
        float* xt = xPacked + (long)r0 * k32;
        long group = TR.N * 16L, step = 4 * group;
        // Each step of each pass prefetches TC cache lines of what follows the tile's rows in memory (the next tile's rows
        // when they are contiguous), one sequential sweep: 64·TC bytes per 16·TC·sizeof(T) bytes the tile reads.
        byte* next = (byte*)(wt + 4 * TC.N * (long)ldw);
        long lo = endLo * TC.N, hi = endHi * TC.N;   // bytes each pass sweeps (64·TC per step of 64 columns)
        Pass<T, TW, TR, TC, N0>(endLo, wt, ldw, xt, step, stash, next);
        Pass<T, TW, TR, TC, N1>(endLo, wt, ldw, xt + group, step, stash + StashPerChain, next + lo);
        Pass<T, TW, TR, TC, N0>(endHi, wt + 32, ldw, xt + 2 * group, step, stash + 2 * StashPerChain, next + 2 * lo);
        Pass<T, TW, TR, TC, N1>(endHi, wt + 32, ldw, xt + 3 * group, step, stash + 3 * StashPerChain, next + 2 * lo + hi);
        for (int r = 0; r < TR.N; r++)
            for (int j = 0; j < TC.N; j++)
            {
                var s = stash + r * 6 + j;
                float dot = Vector512.Sum((s[0] + s[StashPerChain]) + (s[2 * StashPerChain] + s[3 * StashPerChain]))
                    + GemvKernels.DotScalar<T, TW>(k32, k, wt + (long)j * ldw, x + (long)(r0 + r) * ldx);
                float* o = y + (long)(r0 + r) * ldy + i + j;
                *o = acc ? *o + dot : dot;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma(Vector512<float> w, Vector512<float> x, Vector512<float> a) => Vector512.FusedMultiplyAdd(w, x, a);

    // One chain of every output of the tile: acc[6r + j] = Σ_p W_c(row j, p) · x'_c(row r, p) over p < end (step 64), in
    // order; TOdd picks the odd half of Load16. Generated shape: accumulators a{r}{j} for r < 8, j < 6, the ones outside
    // TR × TC removed by the JIT (TR.N and TC.N are constants in each instantiation).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass<T, TW, TR, TC, TOdd>(long end, T* w, long ldw, float* x, long xStep, Vector512<float>* acc, byte* next)
        where T : unmanaged where TW : struct, GemvKernels.IWeights<T> where TR : struct, ICount where TC : struct, ICount where TOdd : struct, ICount
    {
        int rows = TR.N, cols = TC.N;
        bool odd = TOdd.N == 1;
        T* w0 = w, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw, w4 = w3 + ldw, w5 = w4 + ldw;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a24 = default, a25 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default, a34 = default, a35 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default, a44 = default, a45 = default;
        Vector512<float> a50 = default, a51 = default, a52 = default, a53 = default, a54 = default, a55 = default;
        Vector512<float> a60 = default, a61 = default, a62 = default, a63 = default, a64 = default, a65 = default;
        Vector512<float> a70 = default, a71 = default, a72 = default, a73 = default, a74 = default, a75 = default;
        for (long p = 0; p < end; p += 64, x += xStep)
        {
            Sse.Prefetch0(next);
            if (cols > 1) Sse.Prefetch0(next + 64);
            if (cols > 2) Sse.Prefetch0(next + 128);
            if (cols > 3) Sse.Prefetch0(next + 192);
            if (cols > 4) Sse.Prefetch0(next + 256);
            if (cols > 5) Sse.Prefetch0(next + 320);
            next += 64 * cols;
            var v0 = TW.Load16(w0 + p, odd);
            var v1 = cols > 1 ? TW.Load16(w1 + p, odd) : default;
            var v2 = cols > 2 ? TW.Load16(w2 + p, odd) : default;
            var v3 = cols > 3 ? TW.Load16(w3 + p, odd) : default;
            var v4 = cols > 4 ? TW.Load16(w4 + p, odd) : default;
            var v5 = cols > 5 ? TW.Load16(w5 + p, odd) : default;
            { var t = Vector512.Load(x + 0); a00 = Fma(v0, t, a00); if (cols > 1) a01 = Fma(v1, t, a01); if (cols > 2) a02 = Fma(v2, t, a02); if (cols > 3) a03 = Fma(v3, t, a03); if (cols > 4) a04 = Fma(v4, t, a04); if (cols > 5) a05 = Fma(v5, t, a05); }
            if (rows > 1) { var t = Vector512.Load(x + 16); a10 = Fma(v0, t, a10); if (cols > 1) a11 = Fma(v1, t, a11); if (cols > 2) a12 = Fma(v2, t, a12); if (cols > 3) a13 = Fma(v3, t, a13); if (cols > 4) a14 = Fma(v4, t, a14); if (cols > 5) a15 = Fma(v5, t, a15); }
            if (rows > 2) { var t = Vector512.Load(x + 32); a20 = Fma(v0, t, a20); if (cols > 1) a21 = Fma(v1, t, a21); if (cols > 2) a22 = Fma(v2, t, a22); if (cols > 3) a23 = Fma(v3, t, a23); if (cols > 4) a24 = Fma(v4, t, a24); if (cols > 5) a25 = Fma(v5, t, a25); }
            if (rows > 3) { var t = Vector512.Load(x + 48); a30 = Fma(v0, t, a30); if (cols > 1) a31 = Fma(v1, t, a31); if (cols > 2) a32 = Fma(v2, t, a32); if (cols > 3) a33 = Fma(v3, t, a33); if (cols > 4) a34 = Fma(v4, t, a34); if (cols > 5) a35 = Fma(v5, t, a35); }
            if (rows > 4) { var t = Vector512.Load(x + 64); a40 = Fma(v0, t, a40); if (cols > 1) a41 = Fma(v1, t, a41); if (cols > 2) a42 = Fma(v2, t, a42); if (cols > 3) a43 = Fma(v3, t, a43); if (cols > 4) a44 = Fma(v4, t, a44); if (cols > 5) a45 = Fma(v5, t, a45); }
            if (rows > 5) { var t = Vector512.Load(x + 80); a50 = Fma(v0, t, a50); if (cols > 1) a51 = Fma(v1, t, a51); if (cols > 2) a52 = Fma(v2, t, a52); if (cols > 3) a53 = Fma(v3, t, a53); if (cols > 4) a54 = Fma(v4, t, a54); if (cols > 5) a55 = Fma(v5, t, a55); }
            if (rows > 6) { var t = Vector512.Load(x + 96); a60 = Fma(v0, t, a60); if (cols > 1) a61 = Fma(v1, t, a61); if (cols > 2) a62 = Fma(v2, t, a62); if (cols > 3) a63 = Fma(v3, t, a63); if (cols > 4) a64 = Fma(v4, t, a64); if (cols > 5) a65 = Fma(v5, t, a65); }
            if (rows > 7) { var t = Vector512.Load(x + 112); a70 = Fma(v0, t, a70); if (cols > 1) a71 = Fma(v1, t, a71); if (cols > 2) a72 = Fma(v2, t, a72); if (cols > 3) a73 = Fma(v3, t, a73); if (cols > 4) a74 = Fma(v4, t, a74); if (cols > 5) a75 = Fma(v5, t, a75); }
        }
        { acc[0] = a00; if (cols > 1) acc[1] = a01; if (cols > 2) acc[2] = a02; if (cols > 3) acc[3] = a03; if (cols > 4) acc[4] = a04; if (cols > 5) acc[5] = a05; }
        if (rows > 1) { acc[6] = a10; if (cols > 1) acc[7] = a11; if (cols > 2) acc[8] = a12; if (cols > 3) acc[9] = a13; if (cols > 4) acc[10] = a14; if (cols > 5) acc[11] = a15; }
        if (rows > 2) { acc[12] = a20; if (cols > 1) acc[13] = a21; if (cols > 2) acc[14] = a22; if (cols > 3) acc[15] = a23; if (cols > 4) acc[16] = a24; if (cols > 5) acc[17] = a25; }
        if (rows > 3) { acc[18] = a30; if (cols > 1) acc[19] = a31; if (cols > 2) acc[20] = a32; if (cols > 3) acc[21] = a33; if (cols > 4) acc[22] = a34; if (cols > 5) acc[23] = a35; }
        if (rows > 4) { acc[24] = a40; if (cols > 1) acc[25] = a41; if (cols > 2) acc[26] = a42; if (cols > 3) acc[27] = a43; if (cols > 4) acc[28] = a44; if (cols > 5) acc[29] = a45; }
        if (rows > 5) { acc[30] = a50; if (cols > 1) acc[31] = a51; if (cols > 2) acc[32] = a52; if (cols > 3) acc[33] = a53; if (cols > 4) acc[34] = a54; if (cols > 5) acc[35] = a55; }
        if (rows > 6) { acc[36] = a60; if (cols > 1) acc[37] = a61; if (cols > 2) acc[38] = a62; if (cols > 3) acc[39] = a63; if (cols > 4) acc[40] = a64; if (cols > 5) acc[41] = a65; }
        if (rows > 7) { acc[42] = a70; if (cols > 1) acc[43] = a71; if (cols > 2) acc[44] = a72; if (cols > 3) acc[45] = a73; if (cols > 4) acc[46] = a74; if (cols > 5) acc[47] = a75; }
    }
}
