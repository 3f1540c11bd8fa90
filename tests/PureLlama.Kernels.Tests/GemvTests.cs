using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Reference;
using static PureLlama.Kernels.Tests.MatmulTestSupport;

namespace PureLlama.Kernels.Tests;

[Collection(MatmulIsaCollection.Name)]
public sealed unsafe class GemvTests
{
    private static readonly (int M, int N, int K)[] Shapes =
    {
        (1, 1, 1), (1, 7, 33), (1, 33, 127), (1, 129, 1000), (2, 4, 16), (3, 9, 17),
        (4, 33, 48), (5, 66, 100), (8, 31, 255), (7, 127, 1000),
    };

    public static IEnumerable<object[]> Cases()
    {
        int seed = 100;
        foreach (var level in new[] { GemmSimdLevel.Vector512, GemmSimdLevel.Vector256, GemmSimdLevel.Scalar })
            foreach (var (m, n, k) in Shapes)
                foreach (bool bf16 in new[] { false, true })
                {
                    seed++;
                    yield return new object[] { level, m, n, k, bf16, seed % 3 * 3, seed % 2 == 0, seed };
                }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_float64_reference(GemmSimdLevel level, int m, int n, int k, bool bf16, int pad, bool accumulate, int seed)
    {
        var rng = new Random(seed);
        int ldw = k + pad, ldx = k + pad + 1, ldy = n + pad;
        var wF = Random(rng, (long)n * ldw);
        var wH = ToBf16(wF);
        var x = Random(rng, (long)m * ldx);
        var y = accumulate ? Random(rng, (long)m * ldy) : Nan((long)m * ldy);
        for (int i = 0; i < m; i++) for (int j = n; j < ldy; j++) y[(long)i * ldy + j] = float.NaN;
        var initial = (float[])y.Clone();

        using (new IsaScope(level))
            fixed (float* pw = wF, px = x, py = y)
            fixed (ushort* ph = wH)
            {
                // m == 1 goes through the single-vector entry points (ldy unused there).
                if (m == 1 && bf16) SimdGemv.Bf16(n, k, ph, ldw, px, py, accumulate);
                else if (m == 1) SimdGemv.F32(n, k, pw, ldw, px, py, accumulate);
                else if (bf16) SimdGemv.Bf16Rows(m, n, k, ph, ldw, px, ldx, py, ldy, accumulate);
                else SimdGemv.F32Rows(m, n, k, pw, ldw, px, ldx, py, ldy, accumulate);
            }

        var w = bf16 ? Bf16ToDouble(wH) : ReferenceMatmul.ToDouble(wF);
        var expected = ReferenceMatmul.Matmul(m, n, k, ReferenceMatmul.ToDouble(x), ldx, false, w, ldw, true);
        if (accumulate) AddInitial(expected, initial, m, n, ldy);
        ReferenceMatmul.RelativeError(y, ldy, expected, m, n).Should().BeLessThanOrEqualTo(k >= 1000 ? 1e-4 : 1e-5);
        TouchedPadding(y, m, n, ldy).Should().Be(0);
        if (bf16 && k >= 16) // a single product's bf16 rounding (2^-9) can be amplified by cancellation
        {
            var unrounded = ReferenceMatmul.Matmul(m, n, k, ReferenceMatmul.ToDouble(x), ldx, false, ReferenceMatmul.ToDouble(wF), ldw, true);
            if (accumulate) AddInitial(unrounded, initial, m, n, ldy);
            ReferenceMatmul.RelativeError(y, ldy, unrounded, m, n).Should().BeLessThanOrEqualTo(1e-2);
        }
    }

    [Fact]
    public void Large_vector_uses_both_threads_and_matches()
    {
        const int n = 1030, k = 2050;
        var rng = new Random(3);
        var w = Random(rng, (long)n * k);
        var x = Random(rng, k);
        var y = Nan(n);
        fixed (float* pw = w, px = x, py = y)
            SimdGemv.F32(n, k, pw, k, px, py, false);
        var expected = ReferenceMatmul.Matmul(1, n, k, ReferenceMatmul.ToDouble(x), k, false, ReferenceMatmul.ToDouble(w), k, true);
        ReferenceMatmul.RelativeError(y, n, expected, 1, n).Should().BeLessThanOrEqualTo(1e-4);
    }

    [Fact]
    public void Bad_arguments_name_the_parameter()
    {
        var buf = new float[64];
        fixed (float* p = buf)
        {
            float* q = p;
            FluentActions.Invoking(() => SimdGemv.F32(-1, 2, q, 2, q, q, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("n");
            FluentActions.Invoking(() => SimdGemv.F32(2, 4, q, 3, q, q, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("ldw");
            FluentActions.Invoking(() => SimdGemv.F32Rows(2, 4, 4, q, 4, q, 3, q, 4, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("ldx");
            FluentActions.Invoking(() => SimdGemv.F32Rows(2, 4, 4, q, 4, q, 4, q, 3, false))
                .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("ldy");
        }
    }
}
