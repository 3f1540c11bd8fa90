using System.Runtime.InteropServices;
using PureLlama.Kernels.Blocks;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using static PureLlama.Kernels.Tests.MatmulTestSupport;

namespace PureLlama.Kernels.Tests;

/// <summary>
/// The GGUF block formats' int8 dot-product path over 16-row tiles (Q8_0, Q4_0, Q4_K, Q6_K in BlockTiledMatmul) against float64 on ragged shapes with poisoned outputs: (1) exactly enough on the quantized
/// activations (the integers are exact, only F32 accumulation differs); (2) against the exact Ŵ·x within the bound
/// the activation rounding implies; (3) SIMD and scalar paths bit for bit; (4) batch invariance: every row of an
/// m-row product equals, bit for bit, the same row computed alone or in any other batch.
/// </summary>
[Collection(MatmulIsaCollection.Name)]
public sealed unsafe class GgmlBlockTiledKernelTests
{
    public static IEnumerable<object[]> Cases()
    {
        int seed = 1500;
        foreach (var type in BlockFormats.All)
        {
            int bv = BlockFormats.BlockValues(type);
            foreach (var (rows, blocks) in new[] { (5, 1), (13, 2), (37, 3), (130, bv == 32 ? 9 : 2) })
                yield return new object[] { type, rows, blocks * bv, seed++ };
        }
    }

    /// <summary>A weight: its GGUF blocks, float64 Ŵ and tiles.</summary>
    private sealed class Case : IDisposable
    {
        public required byte[] Blocks;
        public required double[] WHat;
        public required IDisposable Tiles;
        public void Dispose() => Tiles.Dispose();
    }

    private static Case Make(GgmlType type, int rows, int cols, Random rng)
    {
        var w = Random(rng, (long)rows * cols);
        Array.Clear(w, 0, BlockFormats.BlockValues(type));   // an all-zero block
        w[cols + 3] = 40f;                                       // an outlier
        var blocks = GC.AllocateArray<byte>((int)(rows * BlockFormats.RowBytes(type, cols)), pinned: true);
        fixed (float* pw = w)
        fixed (byte* pb = blocks)
        {
            BlockFormats.Visit(type, new Quantize(pw, rows, cols, pb));
            var view = new BlockMatrix(rows, cols, pb, BlockFormats.BlockValues(type), BlockFormats.BlockBytes(type));
            var tiles = BlockTileRepack.From(type, view)!;
            return new Case { Blocks = blocks, WHat = ReferenceGgmlBlocks.Dequantize((int)type, blocks, rows, cols), Tiles = tiles };
        }
    }

    private readonly struct Quantize(float* src, int rows, int cols, byte* dst) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat { BlockKernels<T>.QuantizeRows(src, rows, cols, dst); return true; }
    }

    private static int Rows(IDisposable t) => ((BlockTiles)t).Rows;

    /// <summary>Y[m, ldy] with the given ISA; y starts poisoned (or as <paramref name="initial"/> with accumulate).</summary>
    private static float[] Run(IDisposable t, float[] x, int m, int ldx, int ldy, bool accumulate, float[]? initial, GemmSimdLevel level)
    {
        var y = initial is null ? Nan((long)m * ldy) : (float[])initial.Clone();
        using var scope = new IsaScope(level);
        fixed (float* px = x, py = y)
        {
            BlockTiledMatmul.Run((BlockTiles)t, m, px, ldx, py, ldy, accumulate);
        }
        return y;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Tiled_path_matches_float64_and_scalar_bit_for_bit(GgmlType type, int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        using var c = Make(type, rows, cols, rng);
        Rows(c.Tiles).Should().Be(rows);
        foreach (int m in new[] { 1, 3, 6, 33 })
            foreach (bool accumulate in new[] { false, true })
            {
                int ldx = cols + 5, ldy = rows + 3;
                var x = Random(rng, (long)m * ldx);
                for (int i = 0; i < x.Length; i += 7) x[i] *= 8;          // uneven magnitudes within blocks
                var initial = accumulate ? Random(rng, (long)m * ldy) : null;
                var y = Run(c.Tiles, x, m, ldx, ldy, accumulate, initial, GemmSimdLevel.Vector512);
                var scalar = Run(c.Tiles, x, m, ldx, ldy, accumulate, initial, GemmSimdLevel.Scalar);
                y.Should().Equal(scalar, (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"SIMD and scalar agree bit for bit ({type} m={m})");
                if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
                {
                    // Q4_0 and Q8_0 take the AVX2 kernels at this level; the K-quants the scalar twin.
                    var narrow = Run(c.Tiles, x, m, ldx, ldy, accumulate, initial, GemmSimdLevel.Vector256);
                    narrow.Should().Equal(scalar, (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"the 256-bit level and scalar agree bit for bit ({type} m={m})");
                }
                fixed (float* px = x)
                {
                    using var q = Q8Activations.Quantize(px, m, cols, ldx);
                    for (int j = 0; j < m; j++)
                        for (int r = 0; r < rows; r++)
                        {
                            double exact = 0, onCodes = 0, scale = 0, bound = 0;
                            for (int k = 0; k < cols; k++)
                            {
                                double we = c.WHat[(long)r * cols + k], xv = x[(long)j * ldx + k], d = q.RowScales(j)[k / 32];
                                exact += we * xv;
                                onCodes += we * q.Row(j)[k] * d;
                                scale += Math.Abs(we * q.Row(j)[k] * d);
                                bound += Math.Abs(we) * d * 0.5;     // activation rounding ≤ d/2 per element
                            }
                            double init = accumulate ? initial![(long)j * ldy + r] : 0;
                            double got = y[(long)j * ldy + r] - init;
                            Math.Abs(got - onCodes).Should().BeLessThanOrEqualTo(1e-5 * (scale + Math.Abs(init)) + 1e-30, $"{type} m={m} j={j} r={r}: on the quantized activations");
                            Math.Abs(got - exact).Should().BeLessThanOrEqualTo(bound * 1.0001 + 1e-5 * (scale + Math.Abs(init)), $"{type} m={m} j={j} r={r}: vs the exact product");
                        }
                }
                for (int j = 0; j < m; j++)
                    for (int r = rows; r < ldy; r++)
                        if (!accumulate) float.IsNaN(y[(long)j * ldy + r]).Should().BeTrue("padding of y is not written");
            }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_row_is_bitwise_identical_alone_in_a_batch_and_in_a_prefill(GgmlType type, int rows, int cols, int seed)
    {
        var rng = new Random(seed + 11);
        using var c = Make(type, rows, cols, rng);
        const int m = 40;
        var x = Random(rng, (long)m * cols);
        var all = Run(c.Tiles, x, m, cols, rows, false, null, GemmIsa.Detected);
        foreach (int batch in new[] { 1, 2, 3, 5, 8, 13 })
            for (int j0 = 0; j0 + batch <= m; j0 += batch)
            {
                var y = Run(c.Tiles, x.AsSpan(j0 * cols, batch * cols).ToArray(), batch, cols, rows, false, null, GemmIsa.Detected);
                for (int i = 0; i < y.Length; i++)
                    BitConverter.SingleToInt32Bits(y[i]).Should().Be(BitConverter.SingleToInt32Bits(all[j0 * rows + i]), $"{type}: row {j0 + i / rows} in a batch of {batch} vs in {m}");
            }
    }

    [Fact]
    public void Repacked_codes_and_scales_give_back_the_dequantized_weight()
    {
        var rng = new Random(77);
        foreach (var type in new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K })
        {
            int rows = 19, cols = 2 * BlockFormats.BlockValues(type) * (BlockFormats.BlockValues(type) == 32 ? 4 : 1);
            using var c = Make(type, rows, cols, rng);
            var t = (BlockTiles)c.Tiles;
            for (int r = 0; r < rows; r++)
                for (int col = 0; col < cols; col++)
                {
                    int tile = r / 16, lane = r % 16, sb = col / (32 * t.BlocksPerSuper);
                    double d = t.SuperScale(tile, sb, 0, lane);
                    int code = t.Code(tile, lane, col);
                    double v = type switch
                    {
                        GgmlType.Q8_0 => d * code,
                        GgmlType.Q4_0 => d * (code - 8),
                        GgmlType.Q4_K => d * t.SubScale(tile, col / 32, 0, lane) * code + (double)t.SuperScale(tile, sb, 1, lane) * t.SubScale(tile, col / 32, 1, lane),
                        _ => d * t.SubScale(tile, col / 32, col / 16 & 1, lane) * code,
                    };
                    v.Should().BeApproximately(c.WHat[(long)r * cols + col], 1e-6 * (1 + Math.Abs(v)), $"{type} [{r},{col}]");
                }
        }
    }

    /// <summary>
    /// Q4_K tiles pack sc and m in 6 bits (m of blocks 4–7 spread over three bytes' top bits): raw blocks with random
    /// scale bytes (every 6-bit value in every position, which quantizing real weights rarely reaches) come back exactly,
    /// and the SIMD product still matches the scalar one bit for bit and the float64 product of the dequantized weight.
    /// </summary>
    [Fact]
    public void Q4K_packed_sub_scales_hold_every_6_bit_value()
    {
        const int rows = 37, cols = 2048;
        var rng = new Random(91);
        var blocks = GC.AllocateArray<byte>(rows * (int)BlockFormats.RowBytes(GgmlType.Q4_K, cols), pinned: true);
        rng.NextBytes(blocks);
        ushort d = BitConverter.HalfToUInt16Bits((Half)0.01f), dmin = BitConverter.HalfToUInt16Bits((Half)0.003f);
        for (int b = 0; b < blocks.Length; b += 144)
        {
            blocks[b] = (byte)d; blocks[b + 1] = (byte)(d >> 8);
            blocks[b + 2] = (byte)dmin; blocks[b + 3] = (byte)(dmin >> 8);
        }
        var seen = new bool[2, 8, 64];
        fixed (byte* pb = blocks)
        {
            using var tiles = BlockTiles.From(GgmlType.Q4_K, new BlockMatrix(rows, cols, pb, 256, 144));
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < cols / 32; b++)
                {
                    Q4KBlock.ScaleMin(b & 7, pb + (long)r * (cols / 256 * 144) + 144 * (b >> 3) + 4, out int sc, out int m);
                    tiles.SubScale(r / 16, b, 0, r % 16).Should().Be(sc, $"sc of row {r}, block {b}");
                    tiles.SubScale(r / 16, b, 1, r % 16).Should().Be(m, $"m of row {r}, block {b}");
                    seen[0, b & 7, sc] = seen[1, b & 7, m] = true;
                }
            var wHat = ReferenceGgmlBlocks.Dequantize((int)GgmlType.Q4_K, blocks, rows, cols);
            foreach (int m in new[] { 1, 5 })
            {
                var x = Random(rng, (long)m * cols);
                var y = Run(tiles, x, m, cols, rows, false, null, GemmSimdLevel.Vector512);
                var scalar = Run(tiles, x, m, cols, rows, false, null, GemmSimdLevel.Scalar);
                y.Should().Equal(scalar, (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"SIMD and scalar agree bit for bit (m={m})");
                for (int j = 0; j < m; j++)
                    for (int r = 0; r < rows; r++)
                    {
                        double exact = 0, size = 0;
                        for (int k = 0; k < cols; k++)
                        {
                            exact += wHat[(long)r * cols + k] * x[(long)j * cols + k];
                            size += Math.Abs(wHat[(long)r * cols + k] * x[(long)j * cols + k]);
                        }
                        Math.Abs(y[(long)j * rows + r] - exact).Should().BeLessThanOrEqualTo(0.02 * size, $"row {r} of x {j}: near the exact product (int8 activations)");
                    }
            }
        }
        for (int kind = 0; kind < 2; kind++)
            for (int j = 0; j < 8; j++)
            {
                int distinct = 0;
                for (int v = 0; v < 64; v++) if (seen[kind, j, v]) distinct++;
                distinct.Should().BeGreaterThanOrEqualTo(48, $"random scale bytes reach most 6-bit values ({(kind == 0 ? "sc" : "m")}, block {j} of a super-block)");
            }
    }

    /// <summary>
    /// RunMany (several products under one fork, shared X quantized once): every output equals, bit for bit, the same
    /// product run alone, with mixed formats, shared and separate inputs, accumulate on and off, m = 1 and m = 6, and the
    /// padding of every Y untouched; with this machine's ISA and at the 256-bit level (AVX2 kernels for Q4_0/Q8_0, the scalar
    /// twin for the K-quants, in one call).
    /// </summary>
    [Fact]
    public void Products_under_one_fork_equal_each_product_alone_bit_for_bit()
    {
        foreach (var level in new[] { GemmIsa.Detected, GemmSimdLevel.Vector256 }.Distinct())
            ProductsUnderOneFork(level);
    }

    private static void ProductsUnderOneFork(GemmSimdLevel level)
    {
        var rng = new Random(123);
        var specs = new (GgmlType Type, int Rows, int Cols, int Input, bool Accumulate)[]
        {
            (GgmlType.Q4_K, 37, 512, 0, false), (GgmlType.Q6_K, 21, 512, 0, true), (GgmlType.Q4_K, 5, 512, 0, false),
            (GgmlType.Q4_0, 19, 96, 1, false), (GgmlType.Q8_0, 40, 96, 1, true), (GgmlType.Q6_K, 16, 256, 2, false),
        };
        var cases = specs.Select(s => Make(s.Type, s.Rows, s.Cols, rng)).ToList();
        try
        {
            foreach (int m in new[] { 1, 6 })
            {
                int[] colsOf = [512, 96, 256];
                var xs = colsOf.Select(c => Random(rng, (long)m * (c + 3))).ToArray();
                var initial = specs.Select(s => Random(rng, (long)m * (s.Rows + 2))).ToArray();
                var alone = specs.Select((s, i) => Run(cases[i].Tiles, xs[s.Input], m, colsOf[s.Input] + 3, s.Rows + 2, s.Accumulate, s.Accumulate ? initial[i] : null, level)).ToArray();
                var together = specs.Select((s, i) => s.Accumulate ? (float[])initial[i].Clone() : Nan((long)m * (s.Rows + 2))).ToArray();
                var pins = xs.Concat(together).Select(a => GCHandle.Alloc(a, GCHandleType.Pinned)).ToList();
                try
                {
                    var products = specs.Select((s, i) => new TiledProduct((BlockTiles)cases[i].Tiles, (float*)pins[s.Input].AddrOfPinnedObject(), colsOf[s.Input] + 3,
                        (float*)pins[xs.Length + i].AddrOfPinnedObject(), s.Rows + 2, s.Accumulate)).ToArray();
                    using var scope = new IsaScope(level);
                    BlockTiledMatmul.RunMany(products, m);
                }
                finally
                {
                    foreach (var h in pins) h.Free();
                }
                for (int i = 0; i < specs.Length; i++)
                {
                    together[i].Should().Equal(alone[i], (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"product {i} ({specs[i].Type}) m={m} {level}");
                    if (!specs[i].Accumulate)
                        for (int j = 0; j < m; j++)
                            float.IsNaN(together[i][(long)j * (specs[i].Rows + 2) + specs[i].Rows]).Should().BeTrue("padding of y is not written");
                }
            }
        }
        finally
        {
            foreach (var c in cases) c.Dispose();
        }
    }
}
