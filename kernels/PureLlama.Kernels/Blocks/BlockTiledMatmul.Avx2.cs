// The AVX2 micro-kernels of BlockTiledMatmul for Q4_0 and Q8_0 tiles (machines without AVX-512BW): the math of the file
// header of BlockTiledMatmul.cs on 256-bit vectors. A 64-byte step holds 16 weight rows; a 256-bit vector holds 8, so each
// tile is walked twice, rows 0…7 (the low 32 bytes of every step, the low 8 scales) then rows 8…15 (in cache). Per
// (x row, weight row) the integers and the fused multiply-adds, in their order, are the 512-bit kernels' and TileScalar's,
// so the results are theirs bit for bit. Q4_K and Q6_K have no AVX2 kernel: on such machines those weights keep the
// row-direct int8 product (BlockQ8Matmul) and get no tiles (HasNarrowKernel).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Kernels.Simd;
using static PureLlama.Kernels.Simd.Int8DotProducts;

namespace PureLlama.Kernels.Blocks;

internal static unsafe partial class BlockTiledMatmul
{
    /// <summary>Whether tiles of <paramref name="type"/> have an AVX2 kernel (used where AVX-512BW is absent).</summary>
    public static bool HasNarrowKernel(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q8_0;

    /// <summary>Whether tiles of <paramref name="type"/> are multiplied by a SIMD kernel here (else the scalar twin would run).</summary>
    public static bool HasSimdKernel(GgmlType type) => Int8TiledMatmul.Accelerated || (Int8TiledMatmul.AcceleratedNarrow && HasNarrowKernel(type));

    private static void TileNarrow<G>(in Operands o, int t, int j0, int mm) where G : struct, IGroup
    {
        for (int half = 0; half < 2 && t * Lanes + 8 * half < o.Rows; half++)
        {
            if (o.Type == GgmlType.Q8_0) TileQ8_0Narrow<G>(o, t, half, j0, mm);
            else TileQ4_0Narrow<G>(o, t, half, j0, mm);
        }
    }

    /// <summary>
    /// The activation pointers of a group of up to 4 x rows (rows past mm alias the last): row j0's codes, the other rows'
    /// distances from them, each row's block scales and its code-offset sums.
    /// </summary>
    private readonly struct RowGroup
    {
        public readonly sbyte* X0;
        public readonly long D1, D2, D3;
        public readonly float* E0, E1, E2, E3;
        public readonly int* F0, F1, F2, F3;

        public RowGroup(in Operands o, int j0, int mm)
        {
            var (j1, j2, j3) = Aliases(j0, mm);
            int ldq = o.Ldq, blocks = o.Blocks, perRow = o.OffsetsPerRow;
            X0 = o.X + (long)j0 * ldq;
            D1 = (long)(j1 - j0) * ldq; D2 = (long)(j2 - j0) * ldq; D3 = (long)(j3 - j0) * ldq;
            E0 = o.Xd + (long)j0 * blocks; E1 = o.Xd + (long)j1 * blocks; E2 = o.Xd + (long)j2 * blocks; E3 = o.Xd + (long)j3 * blocks;
            F0 = o.Offsets + (long)j0 * perRow; F1 = o.Offsets + (long)j1 * perRow; F2 = o.Offsets + (long)j2 * perRow; F3 = o.Offsets + (long)j3 * perRow;
        }
    }

    /// <summary>p + Σ over one 8-column step (256-bit, as <c>Step</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> StepNarrow(Vector256<short> p, Vector256<byte> lo, Vector256<byte> hi, sbyte* x) =>
        p + PairsUnsigned(lo, Broadcast4Narrow(x)) + PairsUnsigned(hi, Broadcast4Narrow(x + 4));

    /// <summary>t + float(vpmaddwd(p − offset pair, w))·xd (as <c>Scale(Widen(…))</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScaleNarrow(Vector256<short> p, int* offset, Vector256<short> w, float* xd, Vector256<float> t) =>
        Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(p - Vector256.Create(*offset).AsInt16(), w)), Vector256.Create(*xd), t);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileQ4_0Narrow<G>(in Operands o, int t, int half, int j0, int mm) where G : struct, IGroup
    {
        var g = new RowGroup(o, j0, mm);
        bool fetch = j0 == 0 && half == 0;   // the tile's first walk streams it in
        int blocks = o.Blocks;
        byte* codes = o.Codes + t * o.TileBytes;
        ushort* ds = o.Super + (long)t * blocks * Lanes + 8 * half;
        var ones = Vector256<short>.One;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, codes += 256, ds += Lanes)
        {
            if (fetch) Prefetch(codes, 256);
            Vector256<short> p0 = default, p1 = default, p2 = default, p3 = default;
            sbyte* x = g.X0 + 32 * b;
            for (byte* v = codes + 32 * half, stop = v + 256; v < stop; v += 64, x += 8)
            {
                var (lo, hi) = Int8DotProducts.Nibbles(Vector256.Load(v));
                p0 = StepNarrow(p0, lo, hi, x);
                if (G.IsFour)
                {
                    p1 = StepNarrow(p1, lo, hi, x + g.D1);
                    p2 = StepNarrow(p2, lo, hi, x + g.D2);
                    p3 = StepNarrow(p3, lo, hi, x + g.D3);
                }
            }
            var d = HalfToSingleNarrow(ds);
            a0 = Vector256.FusedMultiplyAdd(ScaleNarrow(p0, g.F0 + b, ones, g.E0 + b, default), d, a0);
            if (G.IsFour)
            {
                a1 = Vector256.FusedMultiplyAdd(ScaleNarrow(p1, g.F1 + b, ones, g.E1 + b, default), d, a1);
                a2 = Vector256.FusedMultiplyAdd(ScaleNarrow(p2, g.F2 + b, ones, g.E2 + b, default), d, a2);
                a3 = Vector256.FusedMultiplyAdd(ScaleNarrow(p3, g.F3 + b, ones, g.E3 + b, default), d, a3);
            }
        }
        StoreNarrow(o, t, half, j0, mm, a0, a1, a2, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileQ8_0Narrow<G>(in Operands o, int t, int half, int j0, int mm) where G : struct, IGroup
    {
        var g = new RowGroup(o, j0, mm);
        bool fetch = j0 == 0 && half == 0;   // the tile's first walk streams it in
        int blocks = o.Blocks;
        byte* codes = o.Codes + t * o.TileBytes;
        ushort* ds = o.Super + (long)t * blocks * Lanes + 8 * half;
        var ones = Vector256<short>.One;
        var sixteen = Vector256.Create((short)16);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, codes += 512, ds += Lanes)
        {
            if (fetch) Prefetch(codes, 512);
            // L: low nibbles of u = q + 128, H: high nibbles; q = 16·(H − 8) + L (as TileQ8_0).
            Vector256<short> l0 = default, l1 = default, l2 = default, l3 = default;
            Vector256<short> h0 = default, h1 = default, h2 = default, h3 = default;
            sbyte* x = g.X0 + 32 * b;
            for (byte* v = codes + 32 * half, stop = v + 512; v < stop; v += 64, x += 4)
            {
                var (lo, hi) = Int8DotProducts.Nibbles(Vector256.Load(v));
                var bx = Broadcast4Narrow(x);
                l0 += PairsUnsigned(lo, bx);
                h0 += PairsUnsigned(hi, bx);
                if (G.IsFour)
                {
                    bx = Broadcast4Narrow(x + g.D1);
                    l1 += PairsUnsigned(lo, bx);
                    h1 += PairsUnsigned(hi, bx);
                    bx = Broadcast4Narrow(x + g.D2);
                    l2 += PairsUnsigned(lo, bx);
                    h2 += PairsUnsigned(hi, bx);
                    bx = Broadcast4Narrow(x + g.D3);
                    l3 += PairsUnsigned(lo, bx);
                    h3 += PairsUnsigned(hi, bx);
                }
            }
            var d = HalfToSingleNarrow(ds);
            a0 = Vector256.FusedMultiplyAdd(Q8Block(h0, l0, g.F0 + b, sixteen, ones, g.E0 + b), d, a0);
            if (G.IsFour)
            {
                a1 = Vector256.FusedMultiplyAdd(Q8Block(h1, l1, g.F1 + b, sixteen, ones, g.E1 + b), d, a1);
                a2 = Vector256.FusedMultiplyAdd(Q8Block(h2, l2, g.F2 + b, sixteen, ones, g.E2 + b), d, a2);
                a3 = Vector256.FusedMultiplyAdd(Q8Block(h3, l3, g.F3 + b, sixteen, ones, g.E3 + b), d, a3);
            }
        }
        StoreNarrow(o, t, half, j0, mm, a0, a1, a2, a3);
    }

    /// <summary>Q8_0's block: float(vpmaddwd(H sums − offset, 16) + vpmaddwd(L sums, 1))·xd, as TileQ8_0 forms it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8Block(Vector256<short> h, Vector256<short> l, int* offset, Vector256<short> sixteen, Vector256<short> ones, float* xd) =>
        Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(h - Vector256.Create(*offset).AsInt16(), sixteen) + Avx2.MultiplyAddAdjacent(l, ones)),
            Vector256.Create(*xd), default);

    private static void StoreNarrow(in Operands o, int t, int half, int j0, int mm, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        int r0 = t * Lanes + 8 * half;
        TileRowStore.Group(o.Y, o.Ldy, j0, mm, r0, Math.Min(8, o.Rows - r0), a0, a1, a2, a3, o.Accumulate);
    }
}
