using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using PureLlama.Quantization;
using static PureLlama.Kernels.Tests.MatmulTestSupport;

namespace PureLlama.Kernels.Tests;

/// <summary>
/// The int8 dot-product path (Q8 activations × repacked INT8 / NF4 / INT4-group weights) against float64 on
/// ragged shapes: (1) exactly, given the quantized activations and the repacked weight values (the kernel's
/// integers are exact, its float error tiny); (2) against the exact Ŵ·x with the bound that activation
/// quantization (and NF4's int8 levels) implies; (3) SIMD and scalar paths bit for bit; (4) batch invariance:
/// every row of an m-row product equals, bit for bit, the same row computed alone (m = 1).
/// </summary>
[Collection(MatmulIsaCollection.Name)]
public sealed unsafe class Int8DotKernelTests
{
    public enum Format { Int8, Nf4, Nf4DoubleQuant, Int4Sequential, Int4ActOrder, Int4Group32 }

    public static IEnumerable<object[]> Cases()
    {
        int seed = 900;
        foreach (var f in Enum.GetValues<Format>())
            foreach (var (rows, cols) in new[] { (5, 128), (13, 256), (37, 256), (130, 384) })
                yield return new object[] { f, rows, f == Format.Int8 ? cols - 27 : cols, seed++ };
    }

    /// <summary>A weight of one format: its exact Ŵ (float64) and its repacked tiles.</summary>
    private sealed class Case : IDisposable
    {
        public required double[] WHat;
        public required Int8TiledWeights Tiles;
        public void Dispose() => Tiles.Dispose();
    }

    private static T* Pin<T>(T[] a) where T : unmanaged
    {
        // Arrays from GC.AllocateArray(pinned: true) never move; tests keep them alive via the closure list.
        fixed (T* p = a) return p;
    }

    private static readonly List<object> s_keepAlive = [];

    private static T[] Pinned<T>(int n) where T : unmanaged
    {
        var a = GC.AllocateArray<T>(n, pinned: true);
        lock (s_keepAlive) s_keepAlive.Add(a);
        return a;
    }

    private static Case Make(Format f, int rows, int cols, Random rng)
    {
        switch (f)
        {
            case Format.Int8:
            {
                var q = Pinned<sbyte>(rows * cols);
                var scb = Pinned<float>(rows);
                for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
                for (int r = 0; r < rows; r++) scb[r] = 0.1f + (float)rng.NextDouble();
                var m = new Int8Matrix(rows, cols, Pin(q), Pin(scb));
                return new Case { WHat = ReferenceQuant.DequantizeInt8(q, scb, rows, cols), Tiles = Int8TiledRepack.FromInt8(m)! };
            }
            case Format.Nf4:
            case Format.Nf4DoubleQuant:
            {
                var w = Random(rng, (long)rows * cols);
                Array.Clear(w, 0, 64);                                   // an all-zero block
                var (packed, absmax) = Nf4Quantizer.QuantizeBlocks(w, 64);
                var map = Nf4Codebook.CodesArray();
                var pk = Pinned<byte>(packed.Length); packed.CopyTo(pk, 0);
                var pm = Pinned<float>(16); map.CopyTo(pm, 0);
                Nf4Matrix n;
                double[] wHat;
                if (f == Format.Nf4)
                {
                    var pa = Pinned<float>(absmax.Length); absmax.CopyTo(pa, 0);
                    n = new Nf4Matrix(rows, cols, 64, Pin(pk), Pin(pm), Pin(pa));
                    wHat = ReferenceQuant.DequantizeNf4(packed, map, absmax, 64, rows, cols);
                }
                else
                {
                    var (codes, nested, offset) = Nf4Quantizer.DoubleQuantize(absmax, 256);
                    var dyn = Nf4Codebook.DynamicMapArray();
                    var pc = Pinned<byte>(codes.Length); codes.CopyTo(pc, 0);
                    var pn = Pinned<float>(nested.Length); nested.CopyTo(pn, 0);
                    var pd = Pinned<float>(dyn.Length); dyn.CopyTo(pd, 0);
                    n = new Nf4Matrix(rows, cols, 64, Pin(pk), Pin(pm), Pin(pc), Pin(pn), Pin(pd), offset, 256);
                    wHat = ReferenceQuant.DequantizeNf4(packed, map, codes, nested, dyn, offset, 64, 256, rows, cols);
                }
                return new Case { WHat = wHat, Tiles = Int8TiledRepack.FromNf4(n)! };
            }
            default:
            {
                int rows8 = (rows + 7) / 8 * 8;
                int size = f == Format.Int4Group32 ? 32 : 128, groups = cols / size;
                var qw = Pinned<int>(cols / 8 * rows8);
                var qz = Pinned<int>(groups * rows8 / 8);
                var sc = Pinned<ushort>(groups * rows8);
                var gi = Pinned<int>(cols);
                for (int i = 0; i < qw.Length; i++) qw[i] = rng.Next() ^ (rng.Next() << 16);
                for (int i = 0; i < qz.Length; i++) qz[i] = rng.Next() ^ (rng.Next() << 16);
                for (int i = 0; i < sc.Length; i++) sc[i] = BitConverter.HalfToUInt16Bits((Half)(0.01 + 0.05 * rng.NextDouble()));
                for (int i = 0; i < cols; i++) gi[i] = i / size;
                if (f == Format.Int4ActOrder) rng.Shuffle(gi);
                var w4 = new Int4GroupWeights(Pin(qw), Pin(qz), Pin(sc), Pin(gi), rows8, cols, groups);
                var wHat = new double[(long)rows8 * cols];
                for (int o = 0; o < rows8; o++)
                    for (int i = 0; i < cols; i++)
                    {
                        int g = gi[i];
                        int q = (int)(((uint)qw[(i / 8) * rows8 + o] >> (4 * (i % 8))) & 15);
                        int z = (int)(((uint)qz[g * (rows8 / 8) + o / 8] >> (4 * (o % 8))) & 15);
                        wHat[(long)o * cols + i] = (double)BitConverter.UInt16BitsToHalf(sc[g * rows8 + o]) * (q - z);
                    }
                return new Case { WHat = wHat, Tiles = Int8TiledRepack.FromInt4(w4)! };
            }
        }
    }

    /// <summary>Y[m, rows] with the given ISA; y starts poisoned (or random with accumulate).</summary>
    private static float[] RunFast(Int8TiledWeights t, float[] x, int m, int ldx, int ldy, bool accumulate, float[]? initial, GemmSimdLevel level)
    {
        var y = initial is null ? Nan((long)m * ldy) : (float[])initial.Clone();
        using var scope = new IsaScope(level);
        fixed (float* px = x, py = y) Int8TiledMatmul.Run(t, m, px, ldx, py, ldy, accumulate);
        return y;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fast_path_matches_float64_within_the_activation_quantization_bound(Format f, int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        using var c = Make(f, rows, cols, rng);
        int wRows = c.Tiles.Rows;
        foreach (int m in new[] { 1, 3, 6, 33 })
            foreach (bool accumulate in new[] { false, true })
            {
                int ldx = cols + 5, ldy = wRows + 3;
                var x = Random(rng, (long)m * ldx);
                for (int i = 0; i < x.Length; i += 7) x[i] *= 8;          // uneven magnitudes within blocks
                var initial = accumulate ? Random(rng, (long)m * ldy) : null;
                var y = RunFast(c.Tiles, x, m, ldx, ldy, accumulate, initial, GemmSimdLevel.Vector512);
                var scalar = RunFast(c.Tiles, x, m, ldx, ldy, accumulate, initial, GemmSimdLevel.Scalar);
                y.Should().Equal(scalar, (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"SIMD and scalar agree bit for bit ({f} m={m})");
                if (Avx2.IsSupported && Fma.IsSupported)
                {
                    var narrow = RunFast(c.Tiles, x, m, ldx, ldy, accumulate, initial, GemmSimdLevel.Vector256);
                    narrow.Should().Equal(scalar, (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"the AVX2 kernel and scalar agree bit for bit ({f} m={m})");
                }

                var wFast = FastWeights(c.Tiles);
                var wSpan = Int4Magnitudes(c.Tiles);   // INT4: s·(q + z), the size of the two F32 terms the zero point is folded from
                var inverse = InversePermutation(c.Tiles);
                using var q = QuantizeActivations(x, m, cols, ldx, c.Tiles);
                for (int j = 0; j < m; j++)
                    for (int r = 0; r < wRows; r++)
                    {
                        double exact = 0, onCodes = 0, scale = 0, bound = 0;
                        for (int k = 0; k < cols; k++)
                        {
                            double xv = x[(long)j * ldx + k];
                            int kp = inverse[k];
                            double xq = q.Row(j)[kp] * (double)q.RowScales(j)[kp / 32];
                            double wf = wFast[(long)r * c.Tiles.PaddedCols + kp], we = c.WHat[(long)r * cols + k];
                            exact += we * xv;
                            onCodes += wf * xq;
                            scale += Math.Abs((wSpan?[(long)r * c.Tiles.PaddedCols + kp] ?? wf) * xq);
                            // activation rounding (≤ d/2 per element) + the weight's level rounding (NF4)
                            bound += Math.Abs(wf) * q.RowScales(j)[kp / 32] * 0.5 + Math.Abs(wf - we) * Math.Abs(xv);
                        }
                        double init = accumulate ? initial![(long)j * ldy + r] : 0;
                        double got = y[(long)j * ldy + r] - init;
                        Math.Abs(got - onCodes).Should().BeLessThanOrEqualTo(1e-5 * (scale + Math.Abs(init)) + 1e-30, $"{f} m={m} j={j} r={r}: on the quantized codes");
                        Math.Abs(got - exact).Should().BeLessThanOrEqualTo(bound * 1.0001 + 1e-5 * (scale + Math.Abs(init)), $"{f} m={m} j={j} r={r}: vs the exact product");
                    }
                for (int j = 0; j < m; j++)
                    for (int r = wRows; r < ldy; r++)
                        if (!accumulate) float.IsNaN(y[(long)j * ldy + r]).Should().BeTrue("padding of y is not written");
            }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_row_is_bitwise_identical_alone_in_a_batch_and_in_a_prefill(Format f, int rows, int cols, int seed)
    {
        var rng = new Random(seed + 7);
        using var c = Make(f, rows, cols, rng);
        const int m = 40;
        var x = Random(rng, (long)m * cols);
        var all = RunFast(c.Tiles, x, m, cols, c.Tiles.Rows, false, null, GemmIsa.Detected);
        foreach (int batch in new[] { 1, 2, 3, 4, 5, 8, 13, 32 })
            for (int j0 = 0; j0 + batch <= m; j0 += batch)
            {
                var part = x.AsSpan(j0 * cols, batch * cols).ToArray();
                var y = RunFast(c.Tiles, part, batch, cols, c.Tiles.Rows, false, null, GemmIsa.Detected);
                for (int i = 0; i < y.Length; i++)
                    BitConverter.SingleToInt32Bits(y[i]).Should().Be(BitConverter.SingleToInt32Bits(all[j0 * c.Tiles.Rows + i]), $"{f}: row {j0 + i / c.Tiles.Rows} in a batch of {batch} vs in {m}");
            }
    }

    [Fact]
    public void Activation_blocks_round_to_nearest_and_simd_equals_scalar()
    {
        var rng = new Random(3);
        foreach (int cols in new[] { 1, 31, 32, 33, 100, 256 })
        {
            int rows = 3, ldx = cols + 2;
            var x = Random(rng, rows * ldx);
            for (int i = 0; i < x.Length; i += 11) x[i] *= 40;
            Array.Clear(x, 0, Math.Min(cols, 32));                      // an all-zero block: scale 0
            fixed (float* px = x)
            {
                using var a = Q8Activations.Quantize(px, rows, cols, ldx, null, simd: true);
                using var b = Q8Activations.Quantize(px, rows, cols, ldx, null, simd: false);
                new Span<sbyte>(a.Values, rows * a.PaddedCols).SequenceEqual(new Span<sbyte>(b.Values, rows * b.PaddedCols)).Should().BeTrue();
                new Span<float>(a.Scales, rows * a.Blocks).SequenceEqual(new Span<float>(b.Scales, rows * b.Blocks)).Should().BeTrue();
                new Span<int>(a.Sums, rows * a.Blocks).SequenceEqual(new Span<int>(b.Sums, rows * b.Blocks)).Should().BeTrue();
                for (int j = 0; j < rows; j++)
                    for (int blk = 0; blk < a.Blocks; blk++)
                    {
                        int sum = 0;
                        for (int k = blk * 32; k < blk * 32 + 32; k++)
                        {
                            sum += a.Row(j)[k];
                            double xv = k < cols ? x[j * ldx + k] : 0;
                            Math.Abs(xv - a.Row(j)[k] * (double)a.RowScales(j)[blk]).Should().BeLessThanOrEqualTo(a.RowScales(j)[blk] * 0.5000001 + 1e-30);
                            Math.Abs((int)a.Row(j)[k]).Should().BeLessThanOrEqualTo(127);
                        }
                        a.RowSums(j)[blk].Should().Be(sum);
                    }
            }
        }
    }

    [Fact]
    public void Dot_primitives_are_exact_per_4_byte_group_at_the_extremes()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) throw new PureLlama.Tests.Shared.SkipTestException("AVX-512BW is not available here (the scalar twin is covered by the kernel tests).");
        var rng = new Random(11);
        var w = new sbyte[64]; var x = new sbyte[64]; var u = new byte[64];
        for (int trial = 0; trial < 200; trial++)
        {
            for (int i = 0; i < 64; i++)
            {
                w[i] = trial < 2 ? (sbyte)(trial == 0 ? -128 : 127) : (sbyte)rng.Next(-128, 128);   // −128 weights are allowed
                x[i] = trial < 2 ? (sbyte)(i % 2 == 0 ? 127 : -127) : (sbyte)rng.Next(-127, 128);  // activations never hold −128
                u[i] = (byte)rng.Next(16);
            }
            fixed (sbyte* pw = w, px = x)
            fixed (byte* pu = u)
            {
                var signed = Int8DotProducts.DotSigned(System.Runtime.Intrinsics.Vector512.Load(pw), System.Runtime.Intrinsics.Vector512.Load(px));
                var pairs = Int8DotProducts.PairsUnsigned(System.Runtime.Intrinsics.Vector512.Load(pu), System.Runtime.Intrinsics.Vector512.Load(px));
                var widened = Int8DotProducts.WidenPairs(pairs + pairs + pairs + pairs + pairs + pairs + pairs + pairs);   // 8 codes ≤ 15 fit i16
                for (int lane = 0; lane < 16; lane++)
                {
                    signed[lane].Should().Be(Int8DotProducts.DotScalar(pw + 4 * lane, px + 4 * lane, 4));
                    int nibbleDot = 0;
                    for (int k = 0; k < 4; k++) nibbleDot += u[4 * lane + k] * x[4 * lane + k];
                    widened[lane].Should().Be(8 * nibbleDot);
                }
            }
        }
    }

    [Fact]
    public void Nf4_levels_are_the_codebook_on_a_7_bit_grid_and_their_offset_codes_keep_pairs_under_2_15()
    {
        var map = Nf4Codebook.CodesArray();
        fixed (float* pm = map)
        {
            var (levels, factor) = Int8TiledRepack.Nf4Levels(pm);
            factor.Should().Be(1f / 64f);
            levels[0].Should().Be(-64);
            levels[7].Should().Be(0);
            levels[15].Should().Be(64);
            for (int i = 0; i < 16; i++) Math.Abs(levels[i] / 64.0 - map[i]).Should().BeLessThanOrEqualTo(0.5 / 64 + 1e-9);
            using var t = new Int8TiledWeights(TiledCodes.Nf4, 16, 64, 64, permuted: false, levels);
            for (int i = 0; i < 16; i++)
            {
                t.Level(i).Should().Be(levels[i]);
                int u = t.OffsetLevels[i];
                (2 * u * 127).Should().BeLessThanOrEqualTo(short.MaxValue, "a vpmaddubsw pair of offset codes against |x| ≤ 127 must not saturate");
            }
        }
    }

    [Fact]
    public void Half_to_single_is_exact_for_every_finite_f16()
    {
        if (!Avx512F.IsSupported) return;
        var bits = new ushort[16];
        for (int h0 = 0; h0 < 65536; h0 += 16)
        {
            for (int i = 0; i < 16; i++) bits[i] = (ushort)(h0 + i);
            Vector512<float> got;
            fixed (ushort* pb = bits) got = Int8DotProducts.HalfToSingle(pb);
            for (int i = 0; i < 16; i++)
            {
                var h = BitConverter.UInt16BitsToHalf(bits[i]);
                if (!Half.IsFinite(h)) continue;
                BitConverter.SingleToInt32Bits(got[i]).Should().Be(BitConverter.SingleToInt32Bits((float)h), $"F16 bits 0x{bits[i]:X4}");
            }
        }
    }

    [Fact]
    public void A_scale_f16_cannot_hold_keeps_the_exact_path()
    {
        var q = new sbyte[16 * 32];
        var scb = new float[16];
        for (int r = 0; r < 16; r++) scb[r] = 1f;
        scb[5] = 127f * 70000f;                                           // s = scb / 127 = 70 000 > F16's 65 504
        fixed (sbyte* pq = q)
        fixed (float* ps = scb)
        {
            Int8TiledRepack.FromInt8(new Int8Matrix(16, 32, pq, ps)).Should().BeNull();
            scb[5] = 1f;
            using var ok = Int8TiledRepack.FromInt8(new Int8Matrix(16, 32, pq, ps));
            ok.Should().NotBeNull();
        }
    }

    [Fact]
    public void Irregular_int4_groups_and_row_crossing_nf4_blocks_are_refused()
    {
        var qw = new int[16 * 8]; var qz = new int[2]; var sc = new ushort[2 * 16]; var gi = new int[48];
        for (int i = 0; i < 48; i++) gi[i] = i < 40 ? 0 : 1;                // groups of 40 and 8 columns
        fixed (int* pq = qw, pz = qz, pg = gi)
        fixed (ushort* ps = sc)
            Int8TiledRepack.FromInt4(new Int4GroupWeights(pq, pz, ps, pg, 16, 48, 2)).Should().BeNull();
        var packed = new byte[5 * 96 / 2]; var absmax = new float[5 * 96 / 64 + 1]; var map = Nf4Codebook.CodesArray();
        fixed (byte* pp = packed)
        fixed (float* pa = absmax, pm = map)
            Int8TiledRepack.FromNf4(new Nf4Matrix(5, 96, 64, pp, pm, pa)).Should().BeNull();
    }

    /// <summary>
    /// INT4 only (else null): s · (q + z) per weight, [rows, padded cols]. The kernel sums Σ d·Σ q·x and z·Σ d·Σx in F32 and
    /// subtracts (the zero point once per weight block), so its rounding scales with these, not with s · (q − z).
    /// </summary>
    private static double[]? Int4Magnitudes(Int8TiledWeights t)
    {
        if (t.Codes != TiledCodes.Int4) return null;
        var w = new double[(long)t.Rows * t.PaddedCols];
        for (int r = 0; r < t.Rows; r++)
            for (int c = 0; c < t.PaddedCols; c++)
            {
                int tile = r / 16, lane = r % 16, wb = c / t.BlockCols;
                int q = Int8TiledMatmul.CodeValue(t, t.Tile(tile), lane, c), z = t.TileZeros(tile, wb)[lane];
                w[(long)r * t.PaddedCols + c] = Math.Abs((double)t.Scale(tile, wb, lane)) * (q + z);
            }
        return w;
    }

    [Fact]
    public void Int4_rows_whose_codes_equal_their_zero_point_give_zero_up_to_f32_rounding()
    {
        const int rows = 16, cols = 256, size = 128, groups = cols / size;
        var qw = Pinned<int>(cols / 8 * rows);
        var qz = Pinned<int>(groups * rows / 8);
        var sc = Pinned<ushort>(groups * rows);
        var gi = Pinned<int>(cols);
        Array.Fill(qw, unchecked((int)0x99999999));                         // every code 9
        Array.Fill(qz, unchecked((int)0x99999999));                         // every zero point 9: Ŵ = 0
        for (int i = 0; i < sc.Length; i++) sc[i] = BitConverter.HalfToUInt16Bits((Half)0.05f);
        for (int i = 0; i < cols; i++) gi[i] = i / size;
        using var tiles = Int8TiledRepack.FromInt4(new Int4GroupWeights(Pin(qw), Pin(qz), Pin(sc), Pin(gi), rows, cols, groups))!;
        var rng = new Random(77);
        var x = Random(rng, 3L * cols);
        foreach (var level in new[] { GemmSimdLevel.Vector512, GemmSimdLevel.Vector256, GemmSimdLevel.Scalar })
        {
            var y = RunFast(tiles, x, 3, cols, rows, false, null, level);
            for (int j = 0; j < 3; j++)
            {
                double span = 0;
                for (int k = 0; k < cols; k++) span += 0.05 * 18 * Math.Abs(x[j * cols + k]);
                for (int r = 0; r < rows; r++)
                    ((double)Math.Abs(y[j * rows + r])).Should().BeLessThanOrEqualTo(1e-6 * span, $"{level}: Ŵ = 0 leaves only the rounding of the two folded sums");
            }
        }
    }

    /// <summary>The weight values the fast path multiplies: s · v (INT4: s · (q − z)), [rows, padded cols], in packed column order.</summary>
    private static double[] FastWeights(Int8TiledWeights t)
    {
        var w = new double[(long)t.Rows * t.PaddedCols];
        for (int r = 0; r < t.Rows; r++)
        {
            int tile = r / 16, lane = r % 16;
            for (int c = 0; c < t.PaddedCols; c++)
            {
                int wb = c / t.BlockCols;
                int v = Int8TiledMatmul.CodeValue(t, t.Tile(tile), lane, c);
                if (t.Codes == TiledCodes.Int4) v -= t.TileZeros(tile, wb)[lane];
                w[(long)r * t.PaddedCols + c] = (double)t.Scale(tile, wb, lane) * v;
            }
        }
        return w;
    }

    private static Q8Activations QuantizeActivations(float[] x, int m, int cols, int ldx, Int8TiledWeights t)
    {
        fixed (float* px = x) return Q8Activations.Quantize(px, m, cols, ldx, t.Permutation);
    }

    /// <summary>inverse[k] = the packed column holding original column k.</summary>
    private static int[] InversePermutation(Int8TiledWeights t)
    {
        var inverse = new int[t.Cols];
        for (int c = 0; c < t.Cols; c++) inverse[t.Permutation == null ? c : t.Permutation[c]] = c;
        return inverse;
    }

    /// <summary>
    /// RunMany (several products under one fork, X quantized once where products may share it): every output equals, bit
    /// for bit, the same product run alone — INT8, NF4, INT4 (two group sizes, act-order) mixed, shared and separate
    /// inputs, accumulate on and off, m = 1, 4 and 6, with this machine's ISA and on the scalar path — and the padding of
    /// every Y stays untouched.
    /// </summary>
    [Fact]
    public void Products_under_one_fork_equal_each_product_alone_bit_for_bit()
    {
        foreach (var level in new[] { GemmIsa.Detected, GemmSimdLevel.Vector256, GemmSimdLevel.Scalar }.Distinct())
            ProductsUnderOneFork(level);
    }

    private static void ProductsUnderOneFork(GemmSimdLevel level)
    {
        var rng = new Random(321);
        var specs = new (Format Format, int Rows, int Input, bool Accumulate)[]
        {
            (Format.Int4Sequential, 37, 0, false), (Format.Int4Group32, 21, 0, true), (Format.Nf4, 5, 0, false),
            (Format.Int8, 19, 0, false), (Format.Int4ActOrder, 16, 0, false), (Format.Int8, 40, 1, true), (Format.Nf4DoubleQuant, 3, 1, false),
        };
        const int cols = 256;
        var cases = specs.Select(s => Make(s.Format, s.Rows, cols, rng)).ToList();
        try
        {
            foreach (int m in new[] { 1, 4, 6 })
            {
                var xs = new[] { Random(rng, (long)m * (cols + 3)), Random(rng, (long)m * (cols + 5)) };
                int[] ldx = [cols + 3, cols + 5];
                var rowsOf = cases.Select(c => c.Tiles.Rows).ToArray();
                var initial = rowsOf.Select(r => Random(rng, (long)m * (r + 2))).ToArray();
                var alone = specs.Select((s, i) => RunFast(cases[i].Tiles, xs[s.Input], m, ldx[s.Input], rowsOf[i] + 2, s.Accumulate, s.Accumulate ? initial[i] : null, level)).ToArray();
                var together = specs.Select((s, i) => s.Accumulate ? (float[])initial[i].Clone() : Nan((long)m * (rowsOf[i] + 2))).ToArray();
                var pins = xs.Concat(together).Select(a => System.Runtime.InteropServices.GCHandle.Alloc(a, System.Runtime.InteropServices.GCHandleType.Pinned)).ToList();
                try
                {
                    var products = specs.Select((s, i) => new Int8TiledProduct(cases[i].Tiles, (float*)pins[s.Input].AddrOfPinnedObject(), ldx[s.Input],
                        (float*)pins[xs.Length + i].AddrOfPinnedObject(), rowsOf[i] + 2, s.Accumulate)).ToArray();
                    using var scope = new IsaScope(level);
                    Int8TiledMatmul.RunMany(products, m);
                }
                finally
                {
                    foreach (var h in pins) h.Free();
                }
                for (int i = 0; i < specs.Length; i++)
                {
                    together[i].Should().Equal(alone[i], (a, b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"product {i} ({specs[i].Format}) m={m}");
                    if (!specs[i].Accumulate)
                        for (int j = 0; j < m; j++)
                            float.IsNaN(together[i][(long)j * (rowsOf[i] + 2) + rowsOf[i]]).Should().BeTrue("padding of y is not written");
                }
            }
        }
        finally
        {
            foreach (var c in cases) c.Dispose();
        }
    }
}
