using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Reference;
using static PureLlama.Kernels.Tests.MatmulTestSupport;

namespace PureLlama.Kernels.Tests;

[Collection(MatmulIsaCollection.Name)]
public sealed unsafe class GemmTests
{
    // Shapes cross every tile edge of every level: MR 8/6/4, NR 32/16/4, KC 256, MC 192, plus the
    // m ≤ 4 GEMV route and the 16-wide transposing pack.
    private static readonly (int M, int N, int K)[] Shapes =
    {
        (1, 1, 1), (1, 7, 33), (3, 33, 127), (4, 65, 17), (5, 31, 16), (7, 33, 127), (8, 32, 256),
        (9, 64, 257), (33, 7, 1000), (127, 97, 33), (200, 70, 300), (1000, 40, 7), (17, 1000, 19),
    };

    public static IEnumerable<object[]> Cases()
    {
        int seed = 0;
        foreach (var level in new[] { GemmSimdLevel.Vector512, GemmSimdLevel.Vector256, GemmSimdLevel.Scalar })
            foreach (var (m, n, k) in Shapes)
                for (int t = 0; t < 4; t++)
                {
                    bool transA = (t & 1) != 0, transB = (t & 2) != 0;
                    // Padding and accumulate vary with the case so every combination appears.
                    int pad = (seed % 3) * 5;
                    bool accumulate = seed % 2 == 1;
                    yield return new object[] { level, m, n, k, transA, transB, pad, accumulate, ++seed };
                }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void F32_matches_float64_reference(GemmSimdLevel level, int m, int n, int k, bool transA, bool transB, int pad, bool accumulate, int seed)
    {
        var rng = new Random(seed);
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad + 1, ldc = n + pad + 2;
        var a = Random(rng, (long)(transA ? k : m) * lda);
        var b = Random(rng, (long)(transB ? n : k) * ldb);
        var c = accumulate ? Random(rng, (long)m * ldc) : Nan((long)m * ldc);
        for (int i = 0; i < m; i++) for (int j = n; j < ldc; j++) c[(long)i * ldc + j] = float.NaN;
        var initial = (float[])c.Clone();

        using (new IsaScope(level))
            fixed (float* pa = a, pb = b, pc = c)
                SimdGemm.F32(m, n, k, pa, lda, transA, pb, ldb, transB, pc, ldc, accumulate);

        var expected = ReferenceMatmul.Matmul(m, n, k, ReferenceMatmul.ToDouble(a), lda, transA, ReferenceMatmul.ToDouble(b), ldb, transB);
        if (accumulate) AddInitial(expected, initial, m, n, ldc);
        ReferenceMatmul.RelativeError(c, ldc, expected, m, n).Should().BeLessThanOrEqualTo(k >= 1000 ? 1e-4 : 1e-5);
        TouchedPadding(c, m, n, ldc).Should().Be(0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void F32Bf16_matches_float64_reference_on_rounded_B(GemmSimdLevel level, int m, int n, int k, bool transA, bool transB, int pad, bool accumulate, int seed)
    {
        var rng = new Random(seed + 7919);
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        var a = Random(rng, (long)(transA ? k : m) * lda);
        var bF = Random(rng, (long)(transB ? n : k) * ldb);
        var b = ToBf16(bF);
        var c = accumulate ? Random(rng, (long)m * ldc) : Nan((long)m * ldc);
        for (int i = 0; i < m; i++) for (int j = n; j < ldc; j++) c[(long)i * ldc + j] = float.NaN;
        var initial = (float[])c.Clone();

        using (new IsaScope(level))
            fixed (float* pa = a, pc = c)
            fixed (ushort* pb = b)
                SimdGemm.F32Bf16(m, n, k, pa, lda, transA, pb, ldb, transB, pc, ldc, accumulate);

        var ad = ReferenceMatmul.ToDouble(a);
        var rounded = ReferenceMatmul.Matmul(m, n, k, ad, lda, transA, Bf16ToDouble(b), ldb, transB);
        var unrounded = ReferenceMatmul.Matmul(m, n, k, ad, lda, transA, ReferenceMatmul.ToDouble(bF), ldb, transB);
        if (accumulate) { AddInitial(rounded, initial, m, n, ldc); AddInitial(unrounded, initial, m, n, ldc); }
        ReferenceMatmul.RelativeError(c, ldc, rounded, m, n).Should().BeLessThanOrEqualTo(k >= 1000 ? 1e-4 : 1e-5);
        if (k >= 16) // a single product's bf16 rounding can be amplified by cancellation
            ReferenceMatmul.RelativeError(c, ldc, unrounded, m, n).Should().BeLessThanOrEqualTo(1e-2);
        TouchedPadding(c, m, n, ldc).Should().Be(0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Larger_than_one_block_in_every_dimension(bool transB)
    {
        // 2 k blocks, 2 m blocks, both threads, full and edge tiles together.
        const int m = 389, n = 300, k = 520;
        var rng = new Random(transB ? 11 : 12);
        var a = Random(rng, (long)m * k);
        var b = Random(rng, (long)n * k);
        var c = Nan((long)m * n);
        fixed (float* pa = a, pb = b, pc = c)
            SimdGemm.F32(m, n, k, pa, k, false, pb, transB ? k : n, transB, pc, n, false);
        var expected = ReferenceMatmul.Matmul(m, n, k, ReferenceMatmul.ToDouble(a), k, false, ReferenceMatmul.ToDouble(b), transB ? k : n, transB);
        ReferenceMatmul.RelativeError(c, n, expected, m, n).Should().BeLessThanOrEqualTo(1e-5);
    }

    [Fact]
    public void Results_are_bitwise_repeatable()
    {
        const int m = 70, n = 90, k = 300;
        var rng = new Random(5);
        var a = Random(rng, (long)m * k);
        var b = Random(rng, (long)n * k);
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        fixed (float* pa = a, pb = b, p1 = c1, p2 = c2)
        {
            SimdGemm.F32(m, n, k, pa, k, false, pb, k, true, p1, n, false);
            SimdGemm.F32(m, n, k, pa, k, false, pb, k, true, p2, n, false);
        }
        c2.Should().Equal(c1);
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        // Threads split m or n, never k, so every element is summed in the same order.
        const int m = 150, n = 200, k = 600;
        var rng = new Random(6);
        var a = Random(rng, (long)m * k);
        var b = ToBf16(Random(rng, (long)n * k));
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        int saved = SimdThreading.MaxThreads;
        try
        {
            fixed (float* pa = a, p1 = c1, p2 = c2)
            fixed (ushort* pb = b)
            {
                SimdThreading.MaxThreads = 1;
                SimdGemm.F32Bf16(m, n, k, pa, k, false, pb, k, true, p1, n, false);
                SimdThreading.MaxThreads = Math.Max(2, saved);
                SimdGemm.F32Bf16(m, n, k, pa, k, false, pb, k, true, p2, n, false);
            }
        }
        finally
        {
            SimdThreading.MaxThreads = saved;
        }
        c2.Should().Equal(c1);
    }

    [Fact]
    public void Zero_k_writes_zeros_unless_accumulating()
    {
        var c = Nan(6);
        var a = new float[1];
        var b = new float[1];
        fixed (float* pa = a, pb = b, pc = c)
            SimdGemm.F32(2, 3, 0, pa, 1, false, pb, 3, false, pc, 3, false);
        c.Should().AllBeEquivalentTo(0f);

        var d = new float[] { 1, 2, 3 };
        fixed (float* pa = a, pb = b, pd = d)
            SimdGemm.F32(1, 3, 0, pa, 1, false, pb, 3, false, pd, 3, true);
        d.Should().Equal(1, 2, 3);
    }

    [Fact]
    public void Bad_arguments_name_the_parameter()
    {
        var buf = new float[64];
        var h = new ushort[64];
        fixed (float* p = buf)
        fixed (ushort* ph = h)
        {
            float* q = p;
            ushort* qh = ph;
            FluentActions.Invoking(() => SimdGemm.F32(-1, 2, 2, q, 2, false, q, 2, false, q, 2, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("m");
            FluentActions.Invoking(() => SimdGemm.F32(2, 2, 3, q, 2, false, q, 2, false, q, 2, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("lda");
            FluentActions.Invoking(() => SimdGemm.F32(2, 2, 3, q, 3, false, q, 2, true, q, 2, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("ldb");
            FluentActions.Invoking(() => SimdGemm.F32Bf16(2, 4, 3, q, 3, false, qh, 4, false, q, 3, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("ldc");
            FluentActions.Invoking(() => SimdGemm.F32Bf16(2, 4, -3, q, 3, false, qh, 4, false, q, 4, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("k");
        }
    }
}
