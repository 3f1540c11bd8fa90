// Y[m, rows] (=|+=) X[m, cols] · Ŵᵀ with int8 dot products on an Int8TiledWeights (docs/kernels/int8-dot.md):
//
//   X is quantized to Q8 blocks (d[j, b], q[j, ·], sum[j, b]); for x row j and weight row r (one lane):
//     i[j, r, b] = Σ_{c∈b} v[r, c] · q[j, c]                         exact in int32 (Int4: Σ q·x, the codes without z;
//                                                                     Nf4: Σ u·x − 64·sum[j, b], u = v + 64 ≤ 128)
//     t[j, r, w] = fma(i[j, r, b], d[j, b], t)   over the blocks b of weight block w, in order, from 0
//                  Int4 then t = fma(z[r, w], e[j, w], t), e[j, w] = −Σ_{b∈w} d[j, b]·sum[j, b] (Q8Activations): the zero
//                  point once per weight block (one FMA per row) instead of z·sum in int32 per block (vpmulld, sub)
//     a[j, r]    = fma(t[j, r, w], s[r, w], a)    over the weight blocks w, in order, from 0
//     Y[j, r]    = a[j, r]  (or Y + a)
//
// One micro-kernel serves decode (m = 1), small m and prefill: a 16-row tile is streamed once per group of up
// to 4 x rows, and the sequence of float operations of every (j, r) is the same whatever m is or which group
// j falls in. So a row's result is bitwise identical alone, in a batch, or in a prefill (batch invariance),
// and the scalar path (same integers, same fused multiply-adds in the same order) matches the SIMD path bit for bit.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static PureLlama.Kernels.Simd.Int8DotProducts;

namespace PureLlama.Kernels.Simd;

/// <summary>One product of <see cref="Int8TiledMatmul.RunMany"/>: Y[m, W.Rows] (=|+=) X[m, W.Cols]·Ŵᵀ.</summary>
internal readonly unsafe struct Int8TiledProduct(Int8TiledWeights w, float* x, int ldx, float* y, int ldy, bool accumulate)
{
    public Int8TiledWeights W { get; } = w;
    public float* X { get; } = x;
    public int Ldx { get; } = ldx;
    public float* Y { get; } = y;
    public int Ldy { get; } = ldy;
    public bool Accumulate { get; } = accumulate;
}

/// <summary>The int8 dot-product matmul over repacked weights (any m).</summary>
internal static unsafe partial class Int8TiledMatmul
{
    private const int Lanes = Int8TiledWeights.TileRows, MaxGroup = 4;

    /// <summary>True when the SIMD micro-kernel runs here (AVX-512BW); elsewhere the scalar path gives the same bits.</summary>
    public static bool Accelerated => Avx512BW.IsSupported && GemmIsa.Current == GemmSimdLevel.Vector512;

    /// <summary>Y[m, rows] (=|+=) X[m, cols]·Ŵᵀ; ldx ≥ cols, ldy ≥ rows.</summary>
    public static void Run(Int8TiledWeights w, int m, float* x, int ldx, float* y, int ldy, bool accumulate) =>
        RunMany([new Int8TiledProduct(w, x, ldx, y, ldy, accumulate)], m);

    /// <summary>
    /// Several products with the same m under one fork: their tiles form one list cut into pieces, so a thread goes on to
    /// the next product without waiting for the others (one join per call, not per product), and products that read the
    /// same X (same pointer, stride and columns, no column permutation, and for INT4 the same weight block) quantize it
    /// once. Every X is quantized before any Y is written; the outputs must not overlap one another. Each Y is bitwise what
    /// <see cref="Run"/> gives alone.
    /// </summary>
    public static void RunMany(ReadOnlySpan<Int8TiledProduct> products, int m)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        foreach (var p in products) TileLists.CheckProduct(p.W, p.Y, p.Ldy, p.W?.Rows ?? 0, nameof(products));
        if (m == 0 || products.IsEmpty) return;
        bool simd = Accelerated, avx2 = AcceleratedNarrow;   // AcceleratedNarrow implies !Accelerated
        var list = products.ToArray();
        int n = list.Length;
        var acts = new Q8Activations?[n];
        var owned = new bool[n];
        var first = new int[n + 1];
        try
        {
            long work = 0;
            for (int p = 0; p < n; p++)
            {
                var w = list[p].W;
                int shared = TileLists.FirstSharing(p, q => SameActivations(list[q], list[p]));
                owned[p] = shared < 0;
                if (owned[p])
                {
                    acts[p] = Q8Activations.Quantize(list[p].X, m, w.Cols, list[p].Ldx, w.Permutation, simd);
                    if (w.Codes == TiledCodes.Int4) acts[p]!.PrepareZeroPointSums(w.BlockCols / Q8Activations.BlockSize);
                }
                else acts[p] = acts[shared];
                first[p + 1] = first[p] + w.Tiles;
                work += 16L * w.PaddedCols * m * w.Tiles;
            }
            TileLists.Run(first, work / Math.Max(1, first[n]), (p, t) =>
            {
                var w = list[p].W;
                var a = acts[p]!;
                float* y = list[p].Y;
                int ldy = list[p].Ldy;
                bool accumulate = list[p].Accumulate;
                for (int j0 = 0; j0 < m; j0 += MaxGroup)
                {
                    int mm = Math.Min(MaxGroup, m - j0);
                    if (avx2) TileNarrow(w, t, a, j0, mm, y, ldy, accumulate);
                    else if (!simd) TileScalar(w, t, a, j0, mm, y, ldy, accumulate);
                    else if (w.Codes == TiledCodes.Int8) Tile512<Int8Codes>(w, t, a, j0, mm, y, ldy, accumulate);
                    else if (w.Codes == TiledCodes.Nf4) Tile512<Nf4Codes>(w, t, a, j0, mm, y, ldy, accumulate);
                    else Tile512<Int4Codes>(w, t, a, j0, mm, y, ldy, accumulate);
                }
            });
        }
        finally
        {
            for (int p = 0; p < n; p++)
                if (owned[p]) acts[p]?.Dispose();
        }
    }

    // Two products can share one quantized X when they read the same memory the same way: no column permutation (act-order
    // permutes X per weight), and INT4's zero-point sums prepared for the same weight block.
    private static bool SameActivations(Int8TiledProduct a, Int8TiledProduct b) =>
        a.X == b.X && a.Ldx == b.Ldx && a.W.Cols == b.W.Cols && a.W.Permutation == null && b.W.Permutation == null &&
        (a.W.Codes == TiledCodes.Int4) == (b.W.Codes == TiledCodes.Int4) && (a.W.Codes != TiledCodes.Int4 || a.W.BlockCols == b.W.BlockCols);

    /// <summary>How the integer dot of a 32-column block is formed from a format's codes.</summary>
    private enum DotKind
    {
        /// <summary>Signed bytes: the sign trick, widened to i32 per step.</summary>
        SignedBytes,
        /// <summary>Unsigned codes u = v + offset ≤ 128 (NF4 levels): widened to i32 per step, offset · Σx subtracted per block.</summary>
        OffsetCodes,
        /// <summary>Unsigned 4-bit codes with a zero point: eight steps summed in i16; z · Σ d·Σx subtracted per weight block, in F32.</summary>
        ZeroPointNibbles,
    }

    /// <summary>
    /// How a format yields the weight operands of a 32-column block: 4 pairs of steps, each step 4 columns of the
    /// 16 rows as bytes (columns 8s…8s+3 and 8s+4…8s+7 of pair s).
    /// </summary>
    private interface ICodes
    {
        static abstract DotKind Kind { get; }
        /// <summary>Code bytes of one 32-column block of a tile (16 rows).</summary>
        static abstract int BlockBytes { get; }
        /// <summary>
        /// The unsigned operands A0, A1 (signed bytes: |v|) and, for signed bytes only, the sign masks N0, N1. 4-bit codes
        /// split their nibbles with GFNI when <paramref name="gfni"/> (passes of one x row; NibblesGfni).
        /// </summary>
        static abstract (Vector512<byte> A0, Vector512<sbyte> N0, Vector512<byte> A1, Vector512<sbyte> N1) Pair(byte* block, int s, Vector512<byte> levels, bool gfni);
        /// <summary>The same for the 8 rows of one half of the tile (half 0: rows 0…7, the low 32 bytes of each 64-byte step).</summary>
        static abstract (Vector256<byte> A0, Vector256<sbyte> N0, Vector256<byte> A1, Vector256<sbyte> N1) Pair(byte* block, int s, int half, Vector256<byte> levels);
    }

    private struct Int8Codes : ICodes
    {
        public static DotKind Kind => DotKind.SignedBytes;
        public static int BlockBytes => 512;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<byte>, Vector512<sbyte>, Vector512<byte>, Vector512<sbyte>) Pair(byte* block, int s, Vector512<byte> levels, bool gfni)
        {
            var v0 = Vector512.Load((sbyte*)block + 128 * s);
            var v1 = Vector512.Load((sbyte*)block + 128 * s + 64);
            return (Avx512BW.Abs(v0), Avx512BW.CompareLessThan(v0, Vector512<sbyte>.Zero), Avx512BW.Abs(v1), Avx512BW.CompareLessThan(v1, Vector512<sbyte>.Zero));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector256<byte>, Vector256<sbyte>, Vector256<byte>, Vector256<sbyte>) Pair(byte* block, int s, int half, Vector256<byte> levels)
        {
            var v0 = Vector256.Load((sbyte*)block + 128 * s + 32 * half);
            var v1 = Vector256.Load((sbyte*)block + 128 * s + 64 + 32 * half);
            return (Avx2.Abs(v0), Avx2.CompareGreaterThan(Vector256<sbyte>.Zero, v0), Avx2.Abs(v1), Avx2.CompareGreaterThan(Vector256<sbyte>.Zero, v1));
        }
    }

    private struct Nf4Codes : ICodes
    {
        public static DotKind Kind => DotKind.OffsetCodes;
        public static int BlockBytes => 256;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<byte>, Vector512<sbyte>, Vector512<byte>, Vector512<sbyte>) Pair(byte* block, int s, Vector512<byte> levels, bool gfni)
        {
            var v = Vector512.Load(block + 64 * s);
            var (lo, hi) = gfni ? NibblesGfni(v) : Nibbles(v);
            return (Avx512BW.Shuffle(levels, lo), default, Avx512BW.Shuffle(levels, hi), default);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector256<byte>, Vector256<sbyte>, Vector256<byte>, Vector256<sbyte>) Pair(byte* block, int s, int half, Vector256<byte> levels)
        {
            var (lo, hi) = Nibbles(Vector256.Load(block + 64 * s + 32 * half));
            return (Avx2.Shuffle(levels, lo), default, Avx2.Shuffle(levels, hi), default);
        }
    }

    private struct Int4Codes : ICodes
    {
        public static DotKind Kind => DotKind.ZeroPointNibbles;
        public static int BlockBytes => 256;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<byte>, Vector512<sbyte>, Vector512<byte>, Vector512<sbyte>) Pair(byte* block, int s, Vector512<byte> levels, bool gfni)
        {
            var v = Vector512.Load(block + 64 * s);
            var (lo, hi) = gfni ? NibblesGfni(v) : Nibbles(v);
            return (lo, default, hi, default);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector256<byte>, Vector256<sbyte>, Vector256<byte>, Vector256<sbyte>) Pair(byte* block, int s, int half, Vector256<byte> levels)
        {
            var (lo, hi) = Nibbles(Vector256.Load(block + 64 * s + 32 * half));
            return (lo, default, hi, default);
        }
    }

    /// <summary>How many x rows (1…4) one pass over a tile serves; a type so each count compiles without per-step branches.</summary>
    private interface IRowCount { static abstract int Count { get; } }
    private struct OneRow : IRowCount { public static int Count => 1; }
    private struct TwoRows : IRowCount { public static int Count => 2; }
    private struct ThreeRows : IRowCount { public static int Count => 3; }
    private struct FourRows : IRowCount { public static int Count => 4; }

    private static void Tile512<TCodes>(Int8TiledWeights w, int t, Q8Activations a, int j0, int mm, float* y, int ldy, bool accumulate)
        where TCodes : struct, ICodes
    {
        switch (mm)
        {
            case 1: Tile512<TCodes, OneRow>(w, t, a, j0, y, ldy, accumulate); break;
            case 2: Tile512<TCodes, TwoRows>(w, t, a, j0, y, ldy, accumulate); break;
            case 3: Tile512<TCodes, ThreeRows>(w, t, a, j0, y, ldy, accumulate); break;
            default: Tile512<TCodes, FourRows>(w, t, a, j0, y, ldy, accumulate); break;
        }
    }

    /// <summary>Σ over one step pair for one x row in i32: signed bytes (sign trick) or offset codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> StepPair<TCodes>(Vector512<byte> w0, Vector512<sbyte> n0, Vector512<byte> w1, Vector512<sbyte> n1, sbyte* x)
        where TCodes : struct, ICodes =>
        TCodes.Kind == DotKind.SignedBytes
            ? DotUnsigned(w0, ApplySign(Broadcast4(x), n0)) + DotUnsigned(w1, ApplySign(Broadcast4(x + 4), n1))
            : DotUnsigned(w0, Broadcast4(x)) + DotUnsigned(w1, Broadcast4(x + 4));

    /// <summary>… or, for 4-bit zero-point codes, as i16 pair sums (8 of them fit a block without overflow: 8 · 3 810 &lt; 32 768).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> NibblePair(Vector512<byte> w0, Vector512<byte> w1, sbyte* x) =>
        PairsUnsigned(w0, Broadcast4(x)) + PairsUnsigned(w1, Broadcast4(x + 4));

    /// <summary>
    /// Step pair s of every x row of the pass (x pointers at the pair's first column): i32 sums, or for 4-bit zero-point codes
    /// i16 pair sums carried in the same registers (bits reinterpreted). Rows past the pass's count are not computed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<int>, Vector512<int>, Vector512<int>, Vector512<int>) PairOfRows<TCodes, TRows>(byte* block, int s, Vector512<byte> levels,
        sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3) where TCodes : struct, ICodes where TRows : struct, IRowCount
    {
        int mm = TRows.Count;
        var (w0, n0, w1, n1) = TCodes.Pair(block, s, levels, gfni: mm == 1);
        if (TCodes.Kind == DotKind.ZeroPointNibbles)
            return (NibblePair(w0, w1, x0).AsInt32(), mm > 1 ? NibblePair(w0, w1, x1).AsInt32() : default,
                mm > 2 ? NibblePair(w0, w1, x2).AsInt32() : default, mm > 3 ? NibblePair(w0, w1, x3).AsInt32() : default);
        return (StepPair<TCodes>(w0, n0, w1, n1, x0), mm > 1 ? StepPair<TCodes>(w0, n0, w1, n1, x1) : default,
            mm > 2 ? StepPair<TCodes>(w0, n0, w1, n1, x2) : default, mm > 3 ? StepPair<TCodes>(w0, n0, w1, n1, x3) : default);
    }

    /// <summary>Step pair s (1…3) of a block added into the sums of every x row of the pass (x pointers at the block's first column).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddPairOfRows<TCodes, TRows>(ref Vector512<int> i0, ref Vector512<int> i1, ref Vector512<int> i2, ref Vector512<int> i3,
        byte* block, int s, Vector512<byte> levels, sbyte* x0, sbyte* x1, sbyte* x2, sbyte* x3) where TCodes : struct, ICodes where TRows : struct, IRowCount
    {
        int mm = TRows.Count, c = 8 * s;
        var (q0, q1, q2, q3) = PairOfRows<TCodes, TRows>(block, s, levels, x0 + c, x1 + c, x2 + c, x3 + c);
        i0 = Add<TCodes>(i0, q0);
        if (mm > 1) i1 = Add<TCodes>(i1, q1);
        if (mm > 2) i2 = Add<TCodes>(i2, q2);
        if (mm > 3) i3 = Add<TCodes>(i3, q3);
    }

    /// <summary>Adds step sums: i32 lanes, or i16 lanes for 4-bit zero-point codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Add<TCodes>(Vector512<int> a, Vector512<int> b) where TCodes : struct, ICodes =>
        TCodes.Kind == DotKind.ZeroPointNibbles ? (a.AsInt16() + b.AsInt16()).AsInt32() : a + b;

    /// <summary>The exact int32 block dot of one x row from its step sums: Σ v·x = Σ u·x − offset·Σx (NF4), Σ q·x (INT4: i16 pairs widened; z applied per weight block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> BlockDot<TCodes>(Vector512<int> i, int* sum)
        where TCodes : struct, ICodes =>
        TCodes.Kind switch
        {
            DotKind.OffsetCodes => i - Vector512.Create(Int8TiledWeights.Nf4LevelOffset * *sum),
            DotKind.ZeroPointNibbles => WidenPairs(i.AsInt16()),
            _ => i,
        };

    /// <summary>Software prefetch distance in a tile's code stream (the hardware prefetchers leave m = 1 under a bare read; docs/kernels/gguf-blocks.md).</summary>
    private const int PrefetchAhead = 4096;

    /// <summary>Prefetches the code lines <see cref="PrefetchAhead"/> bytes past a block (past the end is harmless: no fault), unrolled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch<TCodes>(byte* block) where TCodes : struct, ICodes
    {
        byte* p = block + PrefetchAhead;
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + 64);
        Sse.Prefetch0(p + 128);
        Sse.Prefetch0(p + 192);
        if (TCodes.BlockBytes == 512)
        {
            Sse.Prefetch0(p + 256);
            Sse.Prefetch0(p + 320);
            Sse.Prefetch0(p + 384);
            Sse.Prefetch0(p + 448);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<TCodes, TRows>(Int8TiledWeights w, int t, Q8Activations a, int j0, float* y, int ldy, bool accumulate)
        where TCodes : struct, ICodes where TRows : struct, IRowCount
    {
        int mm = TRows.Count;
        var levels = Vector512.Create(Vector256.Create(w.OffsetLevels, w.OffsetLevels), Vector256.Create(w.OffsetLevels, w.OffsetLevels));
        int j1 = Math.Min(mm, 2) - 1 + j0, j2 = Math.Min(mm, 3) - 1 + j0, j3 = mm - 1 + j0;   // unused rows alias valid ones
        sbyte* x0 = a.Row(j0), x1 = a.Row(j1), x2 = a.Row(j2), x3 = a.Row(j3);
        float* d0 = a.RowScales(j0), d1 = a.RowScales(j1), d2 = a.RowScales(j2), d3 = a.RowScales(j3);
        int* s0 = a.RowSums(j0), s1 = a.RowSums(j1), s2 = a.RowSums(j2), s3 = a.RowSums(j3);
        bool zeroPoints = TCodes.Kind == DotKind.ZeroPointNibbles;
        float* e0 = zeroPoints ? a.RowZeroPointSums(j0) : null, e1 = zeroPoints ? a.RowZeroPointSums(j1) : null;
        float* e2 = zeroPoints ? a.RowZeroPointSums(j2) : null, e3 = zeroPoints ? a.RowZeroPointSums(j3) : null;
        byte* block = w.Tile(t);
        bool fetch = j0 == 0;   // the tile's first pass streams it in; later groups find it in cache
        ushort* scales = w.TileScales(t, 0);
        byte* zeros = zeroPoints ? w.TileZeros(t, 0) : null;
        int perWeightBlock = w.BlockCols / 32, blocks = a.Blocks, weightBlocks = w.WeightBlocks;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int wb = 0, ab = 0; wb < weightBlocks; wb++)
        {
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
            int ab1 = Math.Min(blocks, (wb + 1) * perWeightBlock);
            for (; ab < ab1; ab++, block += TCodes.BlockBytes)
            {
                if (fetch) Prefetch<TCodes>(block);
                // The block's four step pairs, unrolled; the first one starts the sums (no add into zero).
                int c0 = ab * 32;
                sbyte* y0 = x0 + c0, y1 = x1 + c0, y2 = x2 + c0, y3 = x3 + c0;
                var (i0, i1, i2, i3) = PairOfRows<TCodes, TRows>(block, 0, levels, y0, y1, y2, y3);
                AddPairOfRows<TCodes, TRows>(ref i0, ref i1, ref i2, ref i3, block, 1, levels, y0, y1, y2, y3);
                AddPairOfRows<TCodes, TRows>(ref i0, ref i1, ref i2, ref i3, block, 2, levels, y0, y1, y2, y3);
                AddPairOfRows<TCodes, TRows>(ref i0, ref i1, ref i2, ref i3, block, 3, levels, y0, y1, y2, y3);
                b0 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(BlockDot<TCodes>(i0, s0 + ab)), Vector512.Create(d0[ab]), b0);
                if (mm > 1) b1 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(BlockDot<TCodes>(i1, s1 + ab)), Vector512.Create(d1[ab]), b1);
                if (mm > 2) b2 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(BlockDot<TCodes>(i2, s2 + ab)), Vector512.Create(d2[ab]), b2);
                if (mm > 3) b3 = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(BlockDot<TCodes>(i3, s3 + ab)), Vector512.Create(d3[ab]), b3);
            }
            if (zeroPoints)
            {
                var z = Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(Vector128.Load(zeros + wb * Lanes)));
                b0 = Vector512.FusedMultiplyAdd(z, Vector512.Create(e0[wb]), b0);
                if (mm > 1) b1 = Vector512.FusedMultiplyAdd(z, Vector512.Create(e1[wb]), b1);
                if (mm > 2) b2 = Vector512.FusedMultiplyAdd(z, Vector512.Create(e2[wb]), b2);
                if (mm > 3) b3 = Vector512.FusedMultiplyAdd(z, Vector512.Create(e3[wb]), b3);
            }
            var sv = HalfToSingle(scales + wb * Lanes);
            a0 = Vector512.FusedMultiplyAdd(b0, sv, a0);
            if (mm > 1) a1 = Vector512.FusedMultiplyAdd(b1, sv, a1);
            if (mm > 2) a2 = Vector512.FusedMultiplyAdd(b2, sv, a2);
            if (mm > 3) a3 = Vector512.FusedMultiplyAdd(b3, sv, a3);
        }
        int r0 = t * Lanes;
        TileRowStore.Group(y, ldy, j0, mm, r0, Math.Min(Lanes, w.Rows - r0), a0, a1, a2, a3, accumulate);
    }

    /// <summary>The same computation lane by lane (no SIMD): identical integers and fused multiply-adds in the same order.</summary>
    private static void TileScalar(Int8TiledWeights w, int t, Q8Activations a, int j0, int mm, float* y, int ldy, bool accumulate)
    {
        byte* data = w.Tile(t);
        int perWeightBlock = w.BlockCols / 32, r0 = t * Lanes, n = Math.Min(Lanes, w.Rows - r0);
        for (int lane = 0; lane < n; lane++)
            for (int j = j0; j < j0 + mm; j++)
            {
                sbyte* xq = a.Row(j);
                float acc = 0;
                for (int wb = 0; wb < w.WeightBlocks; wb++)
                {
                    float blockSum = 0;
                    int z = w.Codes == TiledCodes.Int4 ? w.TileZeros(t, wb)[lane] : 0;
                    int ab1 = Math.Min(a.Blocks, (wb + 1) * perWeightBlock);
                    for (int ab = wb * perWeightBlock; ab < ab1; ab++)
                    {
                        int dot = 0;
                        for (int c = ab * 32; c < ab * 32 + 32; c++)
                            dot += CodeValue(w, data, lane, c) * xq[c];
                        blockSum = MathF.FusedMultiplyAdd(dot, a.RowScales(j)[ab], blockSum);
                    }
                    if (w.Codes == TiledCodes.Int4) blockSum = MathF.FusedMultiplyAdd(z, a.RowZeroPointSums(j)[wb], blockSum);
                    acc = MathF.FusedMultiplyAdd(blockSum, w.Scale(t, wb, lane), acc);
                }
                float* dst = y + (long)j * ldy + r0 + lane;
                *dst = accumulate ? *dst + acc : acc;
            }
    }

    /// <summary>The integer code value v[r, c] of a tiled weight (Int4: q, the zero point applied separately).</summary>
    public static int CodeValue(Int8TiledWeights w, byte* tile, int lane, int c) => w.Codes switch
    {
        TiledCodes.Int8 => Int8TiledRepack.GetByte(tile, lane, c),
        TiledCodes.Nf4 => w.Level(Int8TiledRepack.GetNibble(tile, lane, c)),
        _ => Int8TiledRepack.GetNibble(tile, lane, c),
    };
}
