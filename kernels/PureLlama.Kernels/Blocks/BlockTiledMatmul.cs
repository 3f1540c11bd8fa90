// Y[m, rows] (=|+=) X[m, cols] · Ŵᵀ for Q8_0 / Q4_0 / Q4_K / Q6_K weights in BlockTiles, with int8 dot products. X is
// quantized once to Q8 blocks of 32 (Simd/Int8Dot/Q8Activations: x ≈ xd[b]·xq, xs[b] = Σ_b xq). For x row j, weight
// row r, and each super-block s (blocks b of 32: one for Q8_0/Q4_0, eight for the K-quants), all integers exact in
// int32 and below 2^24 (so exact as F32):
//
//   Q8_0  u[b] = Σ_c q·xq                      (SIMD: 16·Σ (H − 8)·xq + Σ L·xq over u = q + 128's nibbles H, L)
//   Q4_0  u[b] = Σ_c (q − 8)·xq
//   Q4_K  u[b] = sc_j·Σ_c q·xq,   k = fma(m_j, xs[b]·xd[b], k)   (xs[b]·xd[b] rounded to F32 once per call)
//   Q6_K  u[b] = sc_lo·Σ_{c<16} (q − 32)·xq + sc_hi·Σ_{c≥16} (q − 32)·xq
//   t = fma(u[b], xd[b], t)                             over the blocks of s, in order, from 0
//   a = fma(t, d, a) (then Q4_K: a = fma(k, −dmin, a))   over the super-blocks, in order, from 0
//   Y[j, r] = a (or Y + a)
//
// SIMD (AVX-512BW), per 64-byte code vector = 16 rows × 8 columns (Q8_0: × 4, both nibbles against one group):
// vpmaddubsw of the unsigned codes against two broadcast 4-byte activation groups gives i16 pair sums. They are added in i16 across a block (Q8_0, Q4_0, Q4_K: 16 products ≤ 15·127)
// or a half-block (Q6_K: 8 products of q ≤ 63, the 6-bit codes rebuilt from the nibble and 2-bit planes with shifts and
// masks); the code offsets (−8, −32) are subtracted there too, as the activations' pair sums × 8 or × 32 made once per
// call (the i16 adds wrap, but the final sums are below 2^15: 16·8·127 and 8·32·127). One vpmaddwd then widens to i32
// and applies the sub-block scale (Q4_K, Q6_K: sc in both i16 halves), 16 (Q8_0's H) or 1. The f16 scales are widened by bit
// placement (exact; BlockMath.LoadF16Fast is the scalar twin). High nibbles take one vgf2p8affineqb (GFNI) where the CPU
// has it, else a shift and a mask. Q4_K's packed 6-bit sc/m are unpacked once per super-block into a 256-byte stack
// buffer that each block reads as before. Each block prefetches the code lines 4 KiB ahead: at m = 1 the products then
// read as fast as a bare streaming read of the same bytes (bench-blocks --sweep), 7–14 % faster than without; only the
// first group of x rows of a tile prefetches (later groups find the tile in cache, and the prefetches cost them ~5 %).
//
// Groups of up to 4 x rows share each weight load (m = 1 runs a one-row kernel); every (j, r) runs the same integer and
// float operations whatever m is and whichever group j is in, so a row's result is bitwise the same alone, in a batch or
// in a prefill, and the scalar path (same integers, same fused multiply-adds in the same order) matches bit for bit.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Kernels.Simd;
using static PureLlama.Kernels.Simd.Int8DotProducts;

namespace PureLlama.Kernels.Blocks;

/// <summary>One product of <see cref="BlockTiledMatmul.RunMany"/>: Y[m, W.Rows] (=|+=) X[m, W.Cols]·Ŵᵀ (ldx ≥ cols, ldy ≥ rows).</summary>
internal readonly unsafe struct TiledProduct(BlockTiles w, float* x, int ldx, float* y, int ldy, bool accumulate)
{
    public BlockTiles W { get; } = w;
    public float* X { get; } = x;
    public int Ldx { get; } = ldx;
    public float* Y { get; } = y;
    public int Ldy { get; } = ldy;
    public bool Accumulate { get; } = accumulate;
}

/// <summary>The int8 dot-product matmul over Q8_0 / Q4_0 / Q4_K / Q6_K tiles (any m).</summary>
internal static unsafe partial class BlockTiledMatmul
{
    private const int Lanes = BlockTiles.TileRows, MaxGroup = 4;

    /// <summary>How far ahead in a tile's code stream each block prefetches (measured best of 1–8 KiB at m = 1, 2 threads).</summary>
    private const int PrefetchAhead = 4096;

    /// <summary>Prefetches the code lines <see cref="PrefetchAhead"/> bytes past a block (past the end is harmless: no fault).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* codes, int bytes)
    {
        for (int i = 0; i < bytes; i += 64) Sse.Prefetch0(codes + PrefetchAhead + i);
    }

    /// <summary>Y[m, rows] (=|+=) X[m, cols]·Ŵᵀ; ldx ≥ cols, ldy ≥ rows.</summary>
    public static void Run(BlockTiles w, int m, float* x, int ldx, float* y, int ldy, bool accumulate) =>
        RunMany([new TiledProduct(w, x, ldx, y, ldy, accumulate)], m);

    /// <summary>
    /// Several products with the same m under one fork: their tiles form one list cut into pieces, so a thread goes on to
    /// the next product without waiting for the others (one join per call, not per product), and products that read the
    /// same X (same pointer, stride and columns) quantize it once. Every X is quantized before any Y is written; the
    /// outputs must not overlap one another. Each Y is bitwise what <see cref="Run"/> gives alone.
    /// </summary>
    public static void RunMany(ReadOnlySpan<TiledProduct> products, int m)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        foreach (var p in products) TileLists.CheckProduct(p.W, p.Y, p.Ldy, p.W?.Rows ?? 0, nameof(products));
        if (m == 0 || products.IsEmpty) return;
        bool simd = Int8TiledMatmul.Accelerated, narrow = Int8TiledMatmul.AcceleratedNarrow;   // narrow implies !simd
        var list = products.ToArray();
        int n = list.Length;
        var acts = new Q8Activations?[n];
        var owned = new bool[n];
        var offsets = new nint[n];
        var ops = new Operands[n];
        var first = new int[n + 1];
        try
        {
            long work = 0;
            for (int p = 0; p < n; p++)
            {
                var w = list[p].W;
                int shared = TileLists.FirstSharing(p, q => list[q].X == list[p].X && list[q].Ldx == list[p].Ldx && list[q].W.Cols == w.Cols);
                owned[p] = shared < 0;
                var a = acts[p] = owned[p] ? Q8Activations.Quantize(list[p].X, m, w.Cols, list[p].Ldx, null, simd) : acts[shared]!;
                bool vector = simd || (narrow && HasNarrowKernel(w.Type));
                int group = w.Type == GgmlType.Q6_K ? 16 : 32, perRow = vector ? w.Cols / group : 0;
                int* o = perRow > 0 ? (int*)NativeMemory.Alloc((nuint)((long)m * perRow * sizeof(int))) : null;
                offsets[p] = (nint)o;
                if (o != null && w.Type == GgmlType.Q4_K) ScaledSums(a, m, (float*)o);
                else if (o != null) PairSums(a, m, group, w.Type == GgmlType.Q6_K ? 32 : 8, o);
                ops[p] = new Operands(w, a, o, perRow, list[p].Y, list[p].Ldy, list[p].Accumulate);
                first[p + 1] = first[p] + w.Tiles;
                work += 16L * w.Cols * m * w.Tiles;
            }
            TileLists.Run(first, work / Math.Max(1, first[n]), (p, t) =>
            {
                for (int j0 = 0; j0 < m; j0 += MaxGroup)
                {
                    int mm = Math.Min(MaxGroup, m - j0);
                    if (simd)
                    {
                        if (mm == 1) Tile<One>(ops[p], t, j0, 1);
                        else Tile<Four>(ops[p], t, j0, mm);
                    }
                    else if (narrow && HasNarrowKernel(list[p].W.Type))
                    {
                        if (mm == 1) TileNarrow<One>(ops[p], t, j0, 1);
                        else TileNarrow<Four>(ops[p], t, j0, mm);
                    }
                    else TileScalar(list[p].W, t, acts[p]!, j0, mm, list[p].Y, list[p].Ldy, list[p].Accumulate);
                }
            });
        }
        finally
        {
            for (int p = 0; p < n; p++)
            {
                if (owned[p]) acts[p]?.Dispose();
                NativeMemory.Free((void*)offsets[p]);
            }
        }
    }

    /// <summary>
    /// The code offsets' activation side: for each group of <paramref name="group"/> columns, factor · Σ xq over the columns
    /// c with c mod 4 &lt; 2 (low i16) and over the others (high i16), the i16 lanes vpmaddubsw fills. |value| ≤ 32·8·127.
    /// </summary>
    private static void PairSums(Q8Activations a, int m, int group, int factor, int* offsets)
    {
        int perRow = a.PaddedCols / group;
        for (int j = 0; j < m; j++)
        {
            sbyte* xq = a.Row(j);
            for (int g = 0; g < perRow; g++)
            {
                int low = 0, high = 0;
                for (int c = g * group; c < g * group + group; c += 4)
                {
                    low += xq[c] + xq[c + 1];
                    high += xq[c + 2] + xq[c + 3];
                }
                offsets[(long)j * perRow + g] = (ushort)(short)(factor * low) | (factor * high << 16);
            }
        }
    }

    /// <summary>Q4_K's min side: xs[b]·xd[b] per block (one F32 rounding; the scalar path forms the same product).</summary>
    private static void ScaledSums(Q8Activations a, int m, float* sums)
    {
        for (int j = 0; j < m; j++)
            for (int b = 0; b < a.Blocks; b++) sums[(long)j * a.Blocks + b] = a.RowSums(j)[b] * a.RowScales(j)[b];
    }

    /// <summary>Raw pointers of one call (read into locals at the top of each tile kernel).</summary>
    private readonly struct Operands(BlockTiles w, Q8Activations a, int* offsets, int offsetsPerRow, float* y, int ldy, bool accumulate)
    {
        public readonly GgmlType Type = w.Type;
        public readonly byte* Codes = w.Data;
        public readonly long TileBytes = w.TileBytes;
        public readonly byte* Sub = w.Sub;
        public readonly long SubBytesPerTile = w.SubBytesPerTile;
        public readonly ushort* Super = w.Super;
        public readonly int Rows = w.Rows, Blocks = w.Blocks, SuperBlocks = w.SuperBlocks;
        public readonly sbyte* X = a.Values;
        public readonly int Ldq = a.PaddedCols;
        public readonly float* Xd = a.Scales;
        public readonly int* Offsets = offsets;
        public readonly int OffsetsPerRow = offsetsPerRow;
        public readonly float* Y = y;
        public readonly int Ldy = ldy;
        public readonly bool Accumulate = accumulate;
    }

    private interface IGroup { static abstract bool IsFour { get; } }
    private struct One : IGroup { public static bool IsFour => false; }
    private struct Four : IGroup { public static bool IsFour => true; }

    private static void Tile<G>(in Operands o, int t, int j0, int mm) where G : struct, IGroup
    {
        if (o.Type == GgmlType.Q8_0) TileQ8_0<G>(o, t, j0, mm);
        else if (o.Type == GgmlType.Q4_0) TileQ4_0<G>(o, t, j0, mm);
        else if (o.Type == GgmlType.Q4_K) TileQ4K<G>(o, t, j0, mm);
        else TileQ6K<G>(o, t, j0, mm);
    }

    /// <summary>Rows j0 … j0 + 3 of a group; rows past mm alias the last valid one (computed, never stored).</summary>
    private static (int J1, int J2, int J3) Aliases(int j0, int mm) => (j0 + Math.Min(mm, 2) - 1, j0 + Math.Min(mm, 3) - 1, j0 + mm - 1);

    /// <summary>
    /// Low and high nibbles of every byte (<paramref name="low4"/> = 0x0F in every byte). The one-row kernels take the
    /// high nibbles with GFNI (Int8DotProducts.NibblesGfni); the four-row kernels keep the shift and mask, because
    /// vgf2p8affineqb shares the pipes of their 8 vpmaddubsw per vector (with it Q8_0 at m = 16 ran ~5 % slower).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<byte> Low, Vector512<byte> High) Nibbles<G>(Vector512<byte> v, Vector512<byte> low4) where G : struct, IGroup =>
        G.IsFour ? (v & low4, Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & low4) : NibblesGfni(v);

    /// <summary>p + Σ over one 8-column step: low nibbles × x[0…3], high nibbles × x[4…7], as i16 pair sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Step(Vector512<short> p, Vector512<byte> lo, Vector512<byte> hi, sbyte* x) =>
        p + PairsUnsigned(lo, Broadcast4(x)) + PairsUnsigned(hi, Broadcast4(x + 4));

    /// <summary>The i16 pair sums minus the activation offset (packed i16 pair), widened with weights w (i16 pairs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Widen(Vector512<short> p, int* offset, Vector512<short> w) =>
        Avx512BW.MultiplyAddAdjacent(p - Vector512.Create(*offset).AsInt16(), w);

    /// <summary>t + float(u)·xd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scale(Vector512<int> u, float* xd, Vector512<float> t) =>
        Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(u), Vector512.Create(*xd), t);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileQ8_0<G>(in Operands o, int t, int j0, int mm) where G : struct, IGroup
    {
        var (j1, j2, j3) = Aliases(j0, mm);
        bool fetch = j0 == 0;   // the tile's first pass streams it in; later groups find it in cache
        int ldq = o.Ldq, blocks = o.Blocks, perRow = o.OffsetsPerRow;
        sbyte* x0 = o.X + (long)j0 * ldq, x1 = o.X + (long)j1 * ldq, x2 = o.X + (long)j2 * ldq, x3 = o.X + (long)j3 * ldq;
        float* e0 = o.Xd + (long)j0 * blocks, e1 = o.Xd + (long)j1 * blocks, e2 = o.Xd + (long)j2 * blocks, e3 = o.Xd + (long)j3 * blocks;
        int* f0 = o.Offsets + (long)j0 * perRow, f1 = o.Offsets + (long)j1 * perRow, f2 = o.Offsets + (long)j2 * perRow, f3 = o.Offsets + (long)j3 * perRow;
        long d1 = x1 - x0, d2 = x2 - x0, d3 = x3 - x0;
        byte* codes = o.Codes + t * o.TileBytes;
        ushort* ds = o.Super + (long)t * blocks * Lanes;
        var ones = Vector512<short>.One;
        var sixteen = Vector512.Create((short)16);
        var low4 = Vector512.Create((byte)0x0F);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, codes += 512, ds += Lanes)
        {
            if (fetch) Prefetch(codes, 512);
            // L: low nibbles of u = q + 128, H: high nibbles; q = 16·(H − 8) + L. Each i16 sums 16 products ≤ 15·127.
            Vector512<short> l0 = default, l1 = default, l2 = default, l3 = default;
            Vector512<short> h0 = default, h1 = default, h2 = default, h3 = default;
            sbyte* x = x0 + 32 * b;
            for (byte* v = codes, stop = codes + 512; v < stop; v += 64, x += 4)
            {
                var (lo, hi) = Nibbles<G>(Vector512.Load(v), low4);
                var bx = Broadcast4(x);
                l0 += PairsUnsigned(lo, bx);
                h0 += PairsUnsigned(hi, bx);
                if (G.IsFour)
                {
                    bx = Broadcast4(x + d1);
                    l1 += PairsUnsigned(lo, bx);
                    h1 += PairsUnsigned(hi, bx);
                    bx = Broadcast4(x + d2);
                    l2 += PairsUnsigned(lo, bx);
                    h2 += PairsUnsigned(hi, bx);
                    bx = Broadcast4(x + d3);
                    l3 += PairsUnsigned(lo, bx);
                    h3 += PairsUnsigned(hi, bx);
                }
            }
            var d = HalfToSingle(ds);
            a0 = Vector512.FusedMultiplyAdd(Scale(Widen(h0, f0 + b, sixteen) + Avx512BW.MultiplyAddAdjacent(l0, ones), e0 + b, default), d, a0);
            if (G.IsFour)
            {
                a1 = Vector512.FusedMultiplyAdd(Scale(Widen(h1, f1 + b, sixteen) + Avx512BW.MultiplyAddAdjacent(l1, ones), e1 + b, default), d, a1);
                a2 = Vector512.FusedMultiplyAdd(Scale(Widen(h2, f2 + b, sixteen) + Avx512BW.MultiplyAddAdjacent(l2, ones), e2 + b, default), d, a2);
                a3 = Vector512.FusedMultiplyAdd(Scale(Widen(h3, f3 + b, sixteen) + Avx512BW.MultiplyAddAdjacent(l3, ones), e3 + b, default), d, a3);
            }
        }
        Store(o, t, j0, mm, a0, a1, a2, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileQ4_0<G>(in Operands o, int t, int j0, int mm) where G : struct, IGroup
    {
        var (j1, j2, j3) = Aliases(j0, mm);
        bool fetch = j0 == 0;   // the tile's first pass streams it in; later groups find it in cache
        int ldq = o.Ldq, blocks = o.Blocks, perRow = o.OffsetsPerRow;
        sbyte* x0 = o.X + (long)j0 * ldq, x1 = o.X + (long)j1 * ldq, x2 = o.X + (long)j2 * ldq, x3 = o.X + (long)j3 * ldq;
        float* e0 = o.Xd + (long)j0 * blocks, e1 = o.Xd + (long)j1 * blocks, e2 = o.Xd + (long)j2 * blocks, e3 = o.Xd + (long)j3 * blocks;
        int* f0 = o.Offsets + (long)j0 * perRow, f1 = o.Offsets + (long)j1 * perRow, f2 = o.Offsets + (long)j2 * perRow, f3 = o.Offsets + (long)j3 * perRow;
        long d1 = x1 - x0, d2 = x2 - x0, d3 = x3 - x0;
        byte* codes = o.Codes + t * o.TileBytes;
        ushort* ds = o.Super + (long)t * blocks * Lanes;
        var ones = Vector512<short>.One;
        var low4 = Vector512.Create((byte)0x0F);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, codes += 256, ds += Lanes)
        {
            if (fetch) Prefetch(codes, 256);
            Vector512<short> p0 = default, p1 = default, p2 = default, p3 = default;
            sbyte* x = x0 + 32 * b;
            for (byte* v = codes, stop = codes + 256; v < stop; v += 64, x += 8)
            {
                var (lo, hi) = Nibbles<G>(Vector512.Load(v), low4);
                p0 = Step(p0, lo, hi, x);
                if (G.IsFour)
                {
                    p1 = Step(p1, lo, hi, x + d1);
                    p2 = Step(p2, lo, hi, x + d2);
                    p3 = Step(p3, lo, hi, x + d3);
                }
            }
            var d = HalfToSingle(ds);
            a0 = Vector512.FusedMultiplyAdd(Scale(Widen(p0, f0 + b, ones), e0 + b, default), d, a0);
            if (G.IsFour)
            {
                a1 = Vector512.FusedMultiplyAdd(Scale(Widen(p1, f1 + b, ones), e1 + b, default), d, a1);
                a2 = Vector512.FusedMultiplyAdd(Scale(Widen(p2, f2 + b, ones), e2 + b, default), d, a2);
                a3 = Vector512.FusedMultiplyAdd(Scale(Widen(p3, f3 + b, ones), e3 + b, default), d, a3);
            }
        }
        Store(o, t, j0, mm, a0, a1, a2, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileQ4K<G>(in Operands o, int t, int j0, int mm) where G : struct, IGroup
    {
        var (j1, j2, j3) = Aliases(j0, mm);
        bool fetch = j0 == 0;   // the tile's first pass streams it in; later groups find it in cache
        int ldq = o.Ldq, blocks = o.Blocks, supers = o.SuperBlocks;
        sbyte* x0 = o.X + (long)j0 * ldq, x1 = o.X + (long)j1 * ldq, x2 = o.X + (long)j2 * ldq, x3 = o.X + (long)j3 * ldq;
        float* e0 = o.Xd + (long)j0 * blocks, e1 = o.Xd + (long)j1 * blocks, e2 = o.Xd + (long)j2 * blocks, e3 = o.Xd + (long)j3 * blocks;
        float* s0 = (float*)o.Offsets + (long)j0 * blocks, s1 = (float*)o.Offsets + (long)j1 * blocks, s2 = (float*)o.Offsets + (long)j2 * blocks, s3 = (float*)o.Offsets + (long)j3 * blocks;
        byte* codes = o.Codes + t * o.TileBytes;
        byte* sub = o.Sub + t * o.SubBytesPerTile;
        ushort* ds = o.Super + (long)t * supers * 2 * Lanes;
        long d1 = x1 - x0, d2 = x2 - x0, d3 = x3 - x0;
        var low4 = Vector512.Create((byte)0x0F);
        var six = Vector512.Create((byte)0x3F);
        var duplicate = DuplicateIndices();
        byte* unpacked = stackalloc byte[256];
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int sb = 0, b = 0; sb < supers; sb++, ds += 2 * Lanes, sub += BlockTiles.Q4KSubBytes)
        {
            // sc_j, m_j of the super-block, unpacked (BlockTiles): byte 16·(j mod 4) + lane of S0/S1 (sc), M0/M1 (m).
            var v0 = Vector512.Load(sub);
            var v1 = Vector512.Load(sub + 64);
            var v2 = Vector512.Load(sub + 128);
            var m1 = (Vector512.ShiftRightLogical(v0.AsUInt16(), 6).AsByte() & Vector512.Create((byte)0x03))
                | (Vector512.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & Vector512.Create((byte)0x0C))
                | (Vector512.ShiftRightLogical(v2.AsUInt16(), 2).AsByte() & Vector512.Create((byte)0x30));
            (v0 & six).Store(unpacked);
            (v1 & six).Store(unpacked + 64);
            (v2 & six).Store(unpacked + 128);
            m1.Store(unpacked + 192);
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            Vector512<float> k0 = default, k1 = default, k2 = default, k3 = default;
            for (byte* u = unpacked, uEnd = unpacked + 128; u < uEnd; u += 16, b++, codes += 256)
            {
                if (fetch) Prefetch(codes, 256);
                Vector512<short> p0 = default, p1 = default, p2 = default, p3 = default;
                sbyte* x = x0 + 32 * b;
                for (byte* v = codes, stop = codes + 256; v < stop; v += 64, x += 8)
                {
                    var (lo, hi) = Nibbles<G>(Vector512.Load(v), low4);
                    p0 = Step(p0, lo, hi, x);
                    if (G.IsFour)
                    {
                        p1 = Step(p1, lo, hi, x + d1);
                        p2 = Step(p2, lo, hi, x + d2);
                        p3 = Step(p3, lo, hi, x + d3);
                    }
                }
                // sc_j of each lane in both i16 of its 32-bit lane, m_j as its i32.
                var sc = Avx512BW.PermuteVar32x16(Avx512BW.ConvertToVector512Int16(Vector256.Load(u)), duplicate);
                var min = Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(Vector128.Load(u + 128)));
                t0 = Scale(Avx512BW.MultiplyAddAdjacent(p0, sc), e0 + b, t0);
                k0 = Vector512.FusedMultiplyAdd(min, Vector512.Create(s0[b]), k0);
                if (G.IsFour)
                {
                    t1 = Scale(Avx512BW.MultiplyAddAdjacent(p1, sc), e1 + b, t1);
                    t2 = Scale(Avx512BW.MultiplyAddAdjacent(p2, sc), e2 + b, t2);
                    t3 = Scale(Avx512BW.MultiplyAddAdjacent(p3, sc), e3 + b, t3);
                    k1 = Vector512.FusedMultiplyAdd(min, Vector512.Create(s1[b]), k1);
                    k2 = Vector512.FusedMultiplyAdd(min, Vector512.Create(s2[b]), k2);
                    k3 = Vector512.FusedMultiplyAdd(min, Vector512.Create(s3[b]), k3);
                }
            }
            var d = HalfToSingle(ds);
            var negMin = HalfToSingle(ds + Lanes);
            a0 = Vector512.FusedMultiplyAdd(k0, negMin, Vector512.FusedMultiplyAdd(t0, d, a0));
            if (G.IsFour)
            {
                a1 = Vector512.FusedMultiplyAdd(k1, negMin, Vector512.FusedMultiplyAdd(t1, d, a1));
                a2 = Vector512.FusedMultiplyAdd(k2, negMin, Vector512.FusedMultiplyAdd(t2, d, a2));
                a3 = Vector512.FusedMultiplyAdd(k3, negMin, Vector512.FusedMultiplyAdd(t3, d, a3));
            }
        }
        Store(o, t, j0, mm, a0, a1, a2, a3);
    }

    /// <summary>vpermw indices that put i16 k of the low half in both i16 of 32-bit lane k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> DuplicateIndices() => Vector512.ShiftRightLogical(Vector512<short>.Indices, 1);

    /// <summary>Q6_K's 6-bit codes of two 8-column steps: nibbles | top two bits (a 2-bit vector covers two steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<byte> Lo0, Vector512<byte> Hi0, Vector512<byte> Lo1, Vector512<byte> Hi1) Codes6(byte* nibbles, byte* top, Vector512<byte> low4, Vector512<byte> bits45)
    {
        var v0 = Vector512.Load(nibbles);
        var v1 = Vector512.Load(nibbles + 64);
        var h = Vector512.Load(top).AsUInt16();
        return ((v0 & low4) | (Vector512.ShiftLeft(h, 4).AsByte() & bits45),
            (Vector512.ShiftRightLogical(v0.AsUInt16(), 4).AsByte() & low4) | (Vector512.ShiftLeft(h, 2).AsByte() & bits45),
            (v1 & low4) | (h.AsByte() & bits45),
            (Vector512.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & low4) | (Vector512.ShiftRightLogical(h, 2).AsByte() & bits45));
    }

    /// <summary>Σ over a 16-column half-block of (q − 32)·xq per i16 pair (2 steps, minus the activation offset), × sc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Half6(Vector512<byte> lo0, Vector512<byte> hi0, Vector512<byte> lo1, Vector512<byte> hi1, sbyte* x, int* offset, Vector512<short> sc) =>
        Widen(Step(Step(default, lo0, hi0, x), lo1, hi1, x + 8), offset, sc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileQ6K<G>(in Operands o, int t, int j0, int mm) where G : struct, IGroup
    {
        var (j1, j2, j3) = Aliases(j0, mm);
        bool fetch = j0 == 0;   // the tile's first pass streams it in; later groups find it in cache
        int ldq = o.Ldq, blocks = o.Blocks, supers = o.SuperBlocks, perRow = o.OffsetsPerRow;
        sbyte* x0 = o.X + (long)j0 * ldq, x1 = o.X + (long)j1 * ldq, x2 = o.X + (long)j2 * ldq, x3 = o.X + (long)j3 * ldq;
        float* e0 = o.Xd + (long)j0 * blocks, e1 = o.Xd + (long)j1 * blocks, e2 = o.Xd + (long)j2 * blocks, e3 = o.Xd + (long)j3 * blocks;
        int* f0 = o.Offsets + (long)j0 * perRow, f1 = o.Offsets + (long)j1 * perRow, f2 = o.Offsets + (long)j2 * perRow, f3 = o.Offsets + (long)j3 * perRow;
        byte* codes = o.Codes + t * o.TileBytes;
        sbyte* sub = (sbyte*)o.Sub + (long)t * blocks * 2 * Lanes;
        ushort* ds = o.Super + (long)t * supers * Lanes;
        var duplicate = DuplicateIndices();
        var duplicateHigh = duplicate + Vector512.Create((short)Lanes);
        var low4 = Vector512.Create((byte)0x0F);
        var bits45 = Vector512.Create((byte)0x30);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int sb = 0, b = 0; sb < supers; sb++, ds += Lanes)
        {
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            for (int end = b + 8; b < end; b++, codes += 384, sub += 2 * Lanes)
            {
                if (fetch) Prefetch(codes, 384);
                var scales = Avx512BW.ConvertToVector512Int16(Vector256.Load(sub));
                var scLo = Avx512BW.PermuteVar32x16(scales, duplicate);
                var scHi = Avx512BW.PermuteVar32x16(scales, duplicateHigh);
                int c = 32 * b;
                var (l0, h0, l1, h1) = Codes6(codes, codes + 256, low4, bits45);
                var u0 = Half6(l0, h0, l1, h1, x0 + c, f0 + 2 * b, scLo);
                Vector512<int> u1 = default, u2 = default, u3 = default;
                if (G.IsFour)
                {
                    u1 = Half6(l0, h0, l1, h1, x1 + c, f1 + 2 * b, scLo);
                    u2 = Half6(l0, h0, l1, h1, x2 + c, f2 + 2 * b, scLo);
                    u3 = Half6(l0, h0, l1, h1, x3 + c, f3 + 2 * b, scLo);
                }
                (l0, h0, l1, h1) = Codes6(codes + 128, codes + 320, low4, bits45);
                u0 += Half6(l0, h0, l1, h1, x0 + c + 16, f0 + 2 * b + 1, scHi);
                t0 = Scale(u0, e0 + b, t0);
                if (G.IsFour)
                {
                    u1 += Half6(l0, h0, l1, h1, x1 + c + 16, f1 + 2 * b + 1, scHi);
                    u2 += Half6(l0, h0, l1, h1, x2 + c + 16, f2 + 2 * b + 1, scHi);
                    u3 += Half6(l0, h0, l1, h1, x3 + c + 16, f3 + 2 * b + 1, scHi);
                    t1 = Scale(u1, e1 + b, t1);
                    t2 = Scale(u2, e2 + b, t2);
                    t3 = Scale(u3, e3 + b, t3);
                }
            }
            var d = HalfToSingle(ds);
            a0 = Vector512.FusedMultiplyAdd(t0, d, a0);
            if (G.IsFour)
            {
                a1 = Vector512.FusedMultiplyAdd(t1, d, a1);
                a2 = Vector512.FusedMultiplyAdd(t2, d, a2);
                a3 = Vector512.FusedMultiplyAdd(t3, d, a3);
            }
        }
        Store(o, t, j0, mm, a0, a1, a2, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(in Operands o, int t, int j0, int mm, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3)
    {
        int r0 = t * Lanes;
        TileRowStore.Group(o.Y, o.Ldy, j0, mm, r0, Math.Min(Lanes, o.Rows - r0), a0, a1, a2, a3, o.Accumulate);
    }

    /// <summary>The same computation lane by lane (no SIMD): identical integers and fused multiply-adds in the same order.</summary>
    private static void TileScalar(BlockTiles w, int t, Q8Activations a, int j0, int mm, float* y, int ldy, bool accumulate)
    {
        int r0 = t * Lanes, n = Math.Min(Lanes, w.Rows - r0);
        for (int lane = 0; lane < n; lane++)
            for (int j = j0; j < j0 + mm; j++)
            {
                sbyte* xq = a.Row(j);
                float acc = 0;
                for (int sb = 0; sb < w.SuperBlocks; sb++)
                {
                    float tSum = 0, kSum = 0;
                    for (int ab = w.BlocksPerSuper * sb; ab < w.BlocksPerSuper * (sb + 1); ab++)
                    {
                        int lo = 0, hi = 0;
                        for (int c = 0; c < 16; c++) lo += w.Code(t, lane, 32 * ab + c) * xq[32 * ab + c];
                        for (int c = 16; c < 32; c++) hi += w.Code(t, lane, 32 * ab + c) * xq[32 * ab + c];
                        float xd = a.RowScales(j)[ab];
                        if (w.Type == GgmlType.Q8_0) tSum = MathF.FusedMultiplyAdd(lo + hi, xd, tSum);
                        else if (w.Type == GgmlType.Q4_0) tSum = MathF.FusedMultiplyAdd(lo + hi - 8 * a.RowSums(j)[ab], xd, tSum);
                        else if (w.Type == GgmlType.Q6_K) tSum = MathF.FusedMultiplyAdd(lo * w.SubScale(t, ab, 0, lane) + hi * w.SubScale(t, ab, 1, lane), xd, tSum);
                        else
                        {
                            kSum = MathF.FusedMultiplyAdd(w.SubScale(t, ab, 1, lane), a.RowSums(j)[ab] * xd, kSum);
                            tSum = MathF.FusedMultiplyAdd((lo + hi) * w.SubScale(t, ab, 0, lane), xd, tSum);
                        }
                    }
                    acc = MathF.FusedMultiplyAdd(tSum, w.SuperScale(t, sb, 0, lane), acc);
                    if (w.Type == GgmlType.Q4_K) acc = MathF.FusedMultiplyAdd(kSum, w.SuperScale(t, sb, 1, lane), acc);
                }
                float* dst = y + (long)j * ldy + r0 + lane;
                *dst = accumulate ? *dst + acc : acc;
            }
    }
}
