using PureLlama.Kernels.Simd;
using static PureLlama.Kernels.Tests.MatmulTestSupport;

namespace PureLlama.Kernels.Tests;

/// <summary>
/// Batch invariance of the GEMV rows path: every row of an m-row product (4-row tiles and the rest) is bitwise the
/// result of that row alone, at every SIMD level, and inside a RowInvariance scope Gemm takes that path for any m.
/// </summary>
[Collection(MatmulIsaCollection.Name)]
public sealed unsafe class GemvRowInvarianceTests
{
    [Theory]
    [InlineData(GemmSimdLevel.Vector512, false)]
    [InlineData(GemmSimdLevel.Vector512, true)]
    [InlineData(GemmSimdLevel.Vector256, true)]
    [InlineData(GemmSimdLevel.Scalar, false)]
    public void Each_row_of_a_batch_is_bitwise_the_row_alone(GemmSimdLevel level, bool bf16)
    {
        const int m = 11, n = 37, k = 1000;   // m: two 4-row tiles and 3 single rows; k: 64-steps, 16-steps and a scalar tail
        var rng = new Random(41);
        var wF = Random(rng, (long)n * k);
        var wH = ToBf16(wF);
        var x = Random(rng, (long)m * k);
        var together = new float[m * n];
        var alone = new float[m * n];
        var gemm = new float[m * n];
        using (new IsaScope(level))
            fixed (float* pw = wF, px = x, pt = together, pa = alone, pg = gemm)
            fixed (ushort* ph = wH)
            {
                if (bf16) SimdGemv.Bf16Rows(m, n, k, ph, k, px, k, pt, n, false);
                else SimdGemv.F32Rows(m, n, k, pw, k, px, k, pt, n, false);
                for (int r = 0; r < m; r++)
                    if (bf16) SimdGemv.Bf16(n, k, ph, k, px + r * k, pa + r * n, false);
                    else SimdGemv.F32(n, k, pw, k, px + r * k, pa + r * n, false);
                using (RowInvariance.Enter())
                    if (bf16) SimdGemm.F32Bf16(m, n, k, px, k, false, ph, k, true, pg, n, false);
                    else SimdGemm.F32(m, n, k, px, k, false, pw, k, true, pg, n, false);
            }
        for (int i = 0; i < m * n; i++)
        {
            BitConverter.SingleToInt32Bits(together[i]).Should().Be(BitConverter.SingleToInt32Bits(alone[i]), $"row {i / n}, column {i % n}");
            BitConverter.SingleToInt32Bits(gemm[i]).Should().Be(BitConverter.SingleToInt32Bits(alone[i]), $"Gemm in a RowInvariance scope, row {i / n}");
        }
    }
}
