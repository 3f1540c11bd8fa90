using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using static PureLlama.Kernels.Tests.MatmulTestSupport;

namespace PureLlama.Kernels.Tests;

/// <summary>
/// Batch invariance of the GEMV rows path: every row of an m-row product (4-row tiles and the rest) is bitwise the
/// result of that row alone, at every SIMD level, and inside a RowInvariance scope Gemm takes that path for any m —
/// including GemvTiles' chain-by-chain tiles (up to 8 x rows × 3 weight rows; every tile height 1…8 with its width,
/// narrower leftover weight rows, several L2 blocks of x rows, 64- and 32-column steps and a scalar tail).
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

    [Theory]
    [InlineData(23, 37, 8200, false)]   // x blocks of 9 rows (9 + 9 + 5: tiles and 2 leftover rows), odd n
    [InlineData(23, 37, 8200, true)]
    [InlineData(128, 19, 2050, true)]   // one block of 93 rows then 35; k with a 16-step and a scalar tail
    [InlineData(7, 1030, 515, false)]   // two threads over n
    [InlineData(17, 29, 700, true)]     // tiles of 8, 8, 1 rows; weight chunks 12, 12, 5 (widths 3 and leftover 1s); k: 32-step and scalar tail
    [InlineData(17, 29, 700, false)]
    [InlineData(16, 1030, 2144, true)]  // two threads over n, two full 8-row tiles, k = 33·64 + 32
    [InlineData(6, 23, 96, true)]       // one 6-row tile (width 4), k = one 64-step and one 32-step
    public void Blocked_gemm_matches_float64_and_each_row_is_bitwise_any_sub_batch(int m, int n, int k, bool bf16)
    {
        var rng = new Random(m * 7919 + n * 31 + k);
        int ldw = k + 3, ldx = k + 5, ldy = n + 2;
        var wF = Random(rng, (long)n * ldw);
        var wH = ToBf16(wF);
        var x = Random(rng, (long)m * ldx);
        foreach (bool accumulate in new[] { false, true })
        {
            var y = accumulate ? Random(rng, (long)m * ldy) : Nan((long)m * ldy);
            for (int i = 0; i < m; i++) for (int j = n; j < ldy; j++) y[(long)i * ldy + j] = float.NaN;
            var initial = (float[])y.Clone();
            fixed (float* pw = wF, px = x, py = y)
            fixed (ushort* ph = wH)
                using (RowInvariance.Enter())
                    if (bf16) SimdGemm.F32Bf16(m, n, k, px, ldx, false, ph, ldw, true, py, ldy, accumulate);
                    else SimdGemm.F32(m, n, k, px, ldx, false, pw, ldw, true, py, ldy, accumulate);

            var w = bf16 ? Bf16ToDouble(wH) : ReferenceMatmul.ToDouble(wF);
            var expected = ReferenceMatmul.Matmul(m, n, k, ReferenceMatmul.ToDouble(x), ldx, false, w, ldw, true);
            if (accumulate) AddInitial(expected, initial, m, n, ldy);
            ReferenceMatmul.RelativeError(y, ldy, expected, m, n).Should().BeLessThanOrEqualTo(1e-4);
            TouchedPadding(y, m, n, ldy).Should().Be(0);

            // Any sub-batch (its own size, its own offset, so other tiles and blocks) gives each row the same bits.
            foreach (int size in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, m - 1 })
            {
                if (size < 1 || size > m) continue;
                int r0 = rng.Next(m - size + 1);
                var part = accumulate ? new float[size * ldy] : Nan((long)size * ldy);
                if (accumulate) Array.Copy(initial, (long)r0 * ldy, part, 0, (long)size * ldy);
                fixed (float* pw = wF, px = x, pp = part)
                fixed (ushort* ph = wH)
                    using (RowInvariance.Enter())
                        if (bf16) SimdGemm.F32Bf16(size, n, k, px + (long)r0 * ldx, ldx, false, ph, ldw, true, pp, ldy, accumulate);
                        else SimdGemm.F32(size, n, k, px + (long)r0 * ldx, ldx, false, pw, ldw, true, pp, ldy, accumulate);
                for (int r = 0; r < size; r++)
                    for (int j = 0; j < n; j++)
                        BitConverter.SingleToInt32Bits(part[(long)r * ldy + j]).Should().Be(BitConverter.SingleToInt32Bits(y[(long)(r0 + r) * ldy + j]),
                            $"row {r0 + r} in a batch of {size} from row {r0}, column {j}, accumulate {accumulate}");
            }
        }
    }
}
