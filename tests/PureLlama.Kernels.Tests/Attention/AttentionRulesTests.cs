using PureLlama.Kernels.Numerics;
using PureLlama.Kernels.Reference;
using PureLlama.Kernels.Simd;
using PureLlama.Kernels.Tests.Harness;

namespace PureLlama.Kernels.Tests.Attention;

/// <summary>
/// The shared attention rules (<see cref="AttentionRules"/>): every range and tile form agrees with the per-pair
/// rule it is solved from, over every small causal/window/offset combination; and the one BF16 rounding
/// (<see cref="Bf16.FromFloatBits"/>, and its SIMD lane-wise form) against the float64 reference encoder.
/// </summary>
public sealed class AttentionRulesTests
{
    [Fact]
    public void Range_and_tile_rules_agree_with_the_pair_rule()
    {
        const int kvLen = 12, tokens = 7;
        foreach (int causal in new[] { 0, 1 })
            for (int window = 0; window <= 5; window++)
                for (int offset = 0; offset <= kvLen - tokens; offset++)
                    for (int i0 = 0; i0 < tokens; i0++)
                        for (int i1 = i0; i1 < tokens; i1++)
                            for (int j0 = 0; j0 < kvLen; j0++)
                                for (int j1 = j0; j1 < kvLen; j1++)
                                    CheckBlock(causal, window, offset, tokens, kvLen, i0, i1, j0, j1);
    }

    private static void CheckBlock(int causal, int window, int offset, int tokens, int kvLen, int i0, int i1, int j0, int j1)
    {
        int pMin = offset + i0, pMax = offset + i1;
        bool any = false, all = true;
        int firstKey = kvLen, keyEnd = 0;
        for (int i = i0; i <= i1; i++)
            for (int j = 0; j < kvLen; j++)
            {
                bool visible = AttentionRules.Visible(offset + i, j, causal, window);
                if (visible) { firstKey = Math.Min(firstKey, j); keyEnd = Math.Max(keyEnd, j + 1); }
                if (j < j0 || j > j1) continue;
                any |= visible;
                all &= visible;
            }
        string at = $"causal={causal} window={window} offset={offset} queries [{i0}, {i1}] keys [{j0}, {j1}]";
        AttentionRules.NoneVisible(pMin, pMax, j0, j1, causal, window).Should().Be(!any, at);
        AttentionRules.AllVisible(pMin, pMax, j0, j1, causal, window).Should().Be(all, at);
        if (keyEnd > 0)
        {
            // Every visible key lies in [FirstKey, KeyEnd) (a range may hold a few invisible keys: it is per block).
            AttentionRules.FirstKey(pMin, window).Should().BeLessThanOrEqualTo(firstKey, at);
            AttentionRules.KeyEnd(pMax, causal, kvLen).Should().BeGreaterThanOrEqualTo(keyEnd, at);
        }
        // Every query that sees a key of [j0, j1] lies in [FirstQuery, QueryEnd); with i0 == i1 the bounds are tight.
        int qLo = AttentionRules.FirstQuery(j0, offset, tokens, causal), qHi = AttentionRules.QueryEnd(j1, offset, tokens, window);
        for (int i = 0; i < tokens; i++)
            for (int j = j0; j <= j1; j++)
                if (AttentionRules.Visible(offset + i, j, causal, window))
                    (i >= qLo && i < qHi).Should().BeTrue($"{at}: query {i} sees key {j} but lies outside [{qLo}, {qHi})");
    }

    [Fact]
    public void Key_range_is_tight_for_one_query()
    {
        foreach (int causal in new[] { 0, 1 })
            for (int window = 0; window <= 4; window++)
                for (int pos = 0; pos < 10; pos++)
                {
                    var visible = Enumerable.Range(0, 10).Where(j => AttentionRules.Visible(pos, j, causal, window)).ToArray();
                    AttentionRules.FirstKey(pos, window).Should().Be(visible[0]);
                    AttentionRules.KeyEnd(pos, causal, 10).Should().Be(visible[^1] + 1);
                    visible.Length.Should().Be(visible[^1] - visible[0] + 1, "the visible keys of one query are contiguous");
                }
    }

    [Fact]
    public void Gqa_head_mapping_and_paged_positions()
    {
        AttentionRules.KvHead(0, 32, 8).Should().Be(0);
        AttentionRules.KvHead(3, 32, 8).Should().Be(0);
        AttentionRules.KvHead(4, 32, 8).Should().Be(1);
        AttentionRules.KvHead(31, 32, 8).Should().Be(7);
        AttentionRules.KvHead(5, 6, 6).Should().Be(5);
        AttentionRules.HeadsFit(32, 8).Should().BeTrue();
        AttentionRules.HeadsFit(6, 4).Should().BeFalse();
        AttentionRules.HeadsFit(4, 0).Should().BeFalse();
        AttentionRules.ScaleValid(0.125f).Should().BeTrue();
        AttentionRules.ScaleValid(0f).Should().BeFalse();
        AttentionRules.ScaleValid(float.NaN).Should().BeFalse();
        AttentionRules.ScaleValid(float.PositiveInfinity).Should().BeFalse();
        // A step of 3 rows (batch rows 5..7) ending a context of 10 sits at positions 7, 8, 9.
        new[] { 5, 6, 7 }.Select(r => AttentionRules.PagedPosition(10, 3, r, 5)).Should().Equal(7, 8, 9);
    }

    [Fact]
    public unsafe void Bf16_rounding_matches_the_reference_encoder_scalar_and_simd()
    {
        var x = RandomData.Normal(RandomData.Seed(nameof(Bf16_rounding_matches_the_reference_encoder_scalar_and_simd)), 997, std: 100f).ToList();
        x.AddRange([0f, -0f, 1f + 1f / 256, 1f + 3f / 256, 1f + 1f / 512, -1f - 3f / 512, 3.3961775e38f, 3.4e38f, float.MaxValue,
            1e-40f, -1e-45f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.Int32BitsToSingle(unchecked((int)0xFFC1_2345))]);
        var xs = x.ToArray();
        var simd = new ushort[xs.Length];
        fixed (float* px = xs)
        fixed (ushort* py = simd)
            SimdFloatConvert.F32ToBf16(px, py, xs.Length);
        for (int i = 0; i < xs.Length; i++)
        {
            ushort want = ReferenceConvert.F32ToBf16(xs[i]), got = Bf16.FromFloat(xs[i]);
            if (ReferenceConvert.IsBf16NaN(want))
            {
                ReferenceConvert.IsBf16NaN(got).Should().BeTrue($"NaN at {i}");
                simd[i].Should().Be(got, "the SIMD form keeps the same NaN bits");
                continue;
            }
            got.Should().Be(want, $"Bf16.FromFloat({xs[i]:R})");
            simd[i].Should().Be(want, $"SimdFloatConvert.F32ToBf16({xs[i]:R})");
        }
    }
}
