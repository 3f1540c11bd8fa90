using PureLlama.Llama;

namespace PureLlama.Tests.Llama;

/// <summary>The sampling steps with Hugging Face semantics, and stop strings.</summary>
public class SamplerTests
{
    private static bool[] Kept(float[] logits) => logits.Select(l => !float.IsNegativeInfinity(l)).ToArray();

    [Fact]
    public void Top_k_keeps_the_k_largest_and_ties_with_the_kth()
    {
        float[] l = [1f, 5f, 3f, 3f, -2f, 4f];
        Sampler.ApplyTopK(l, 3);
        Kept(l).Should().Equal(false, true, true, true, false, true); // 5, 4, and both 3s (tie with the 3rd)
    }

    [Fact]
    public void Top_p_keeps_the_smallest_nucleus_reaching_p()
    {
        // probabilities 0.5, 0.3, 0.15, 0.05
        float[] l = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        var a = (float[])l.Clone();
        Sampler.ApplyTopP(a, 0.75f);
        Kept(a).Should().Equal(true, true, false, false);  // 0.5 + 0.3 reaches 0.75
        var b = (float[])l.Clone();
        Sampler.ApplyTopP(b, 0.81f);
        Kept(b).Should().Equal(true, true, true, false);
        var c = (float[])l.Clone();
        Sampler.ApplyTopP(c, 0.01f);
        Kept(c).Should().Equal(true, false, false, false);  // the top token always stays
    }

    [Fact]
    public void Min_p_drops_tokens_below_a_fraction_of_the_top_probability()
    {
        float[] l = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        Sampler.ApplyMinP(l, 0.2f);   // cut at 0.1
        Kept(l).Should().Equal(true, true, true, false);
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits()
    {
        float[] l = [2f, -2f, 3f, -1f];
        Sampler.ApplyRepetitionPenalty(l, [0, 1], 2f);
        l.Should().Equal(1f, -4f, 3f, -1f);
    }

    [Fact]
    public void Greedy_is_argmax_after_the_penalty()
    {
        var s = new Sampler(new SamplingOptions { RepetitionPenalty = 4f }, 3);
        s.Observe(0);
        s.Sample(new float[] { 2f, 1f, 0.5f }).Should().Be(1); // 2/4 = 0.5 < 1
    }

    [Fact]
    public void Presence_and_frequency_penalties_count_generated_tokens_only()
    {
        // Greedy over a fixed row [3, 2.9, 0]: token 0 wins until its penalties (0.5 once + 0.25 per use) sink it below token 1.
        var s = new Sampler(new SamplingOptions { PresencePenalty = 0.5f, FrequencyPenalty = 0.25f }, 3);
        s.Observe([0, 0, 0]);   // prompt tokens: seen, but not generated, so not penalised
        var picks = new List<int>();
        for (int i = 0; i < 5; i++) picks.Add(s.Sample(new float[] { 3f, 2.9f, 0f }));
        // 0: 3 vs 2.9 → 0; then 3 − 0.75 = 2.25 vs 2.9 → 1; 2.25 vs 2.9 − 0.75 = 2.15 → 0; 3 − 1 = 2 vs 2.15 → 1; 2 vs 1.9 → 0
        picks.Should().Equal(0, 1, 0, 1, 0);
        float[] l = [1f, 1f, 1f, 1f];
        Sampler.ApplyPresenceAndFrequencyPenalties(l, [3, 1], new[] { 0, 2, 0, 1 }, 0.5f, -0.25f);
        l.Should().Equal(1f, 1f - 0.5f + 0.5f, 1f, 1f - 0.5f + 0.25f);
    }

    [Fact]
    public void Logit_bias_is_added_before_the_choice()
    {
        var s = new Sampler(new SamplingOptions { LogitBias = new Dictionary<int, float> { [2] = 2.5f, [0] = -100f } }, 3);
        s.Sample(new float[] { 3f, 1f, 1f }).Should().Be(2);
        new SamplingOptions { LogitBias = new Dictionary<int, float> { [1] = 100.5f } }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*logit_bias*");
        var outside = () => new Sampler(new SamplingOptions { LogitBias = new Dictionary<int, float> { [3] = 1f } }, 3);
        outside.Should().Throw<ArgumentException>().WithMessage("*logit_bias*3*");
        new SamplingOptions { PresencePenalty = 2.5f }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*presence_penalty*");
        new SamplingOptions { FrequencyPenalty = float.NaN }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*frequency_penalty*");
    }

    [Fact]
    public void Seeded_sampling_repeats_and_follows_the_distribution()
    {
        float[] logits = [0f, MathF.Log(3f), float.NegativeInfinity];
        int[] Run(ulong seed)
        {
            var s = new Sampler(new SamplingOptions { Temperature = 1f, Seed = seed }, 3);
            return Enumerable.Range(0, 4000).Select(_ => s.Sample((float[])logits.Clone())).ToArray();
        }
        var a = Run(42);
        a.Should().Equal(Run(42));
        a.Should().NotEqual(Run(43));
        a.Should().NotContain(2);
        (a.Count(x => x == 1) / 4000.0).Should().BeApproximately(0.75, 0.03);
    }

    [Fact]
    public void Nan_logits_are_reported_not_sampled()
    {
        var s = new Sampler(SamplingOptions.Greedy, 3);
        s.Invoking(x => x.Sample(new[] { 0f, float.NaN, 1f })).Should().Throw<InvalidOperationException>().WithMessage("*NaN*");
    }

    [Fact]
    public void Bad_options_name_the_setting()
    {
        new SamplingOptions { MaxNewTokens = 0 }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*max_new_tokens*");
        new SamplingOptions { TopK = -1 }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*top_k*");
        new SamplingOptions { MinP = 2 }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*min_p*");
        new SamplingOptions { RepetitionPenalty = 0 }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*repetition_penalty*");
        new SamplingOptions { StopStrings = [""] }.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().WithMessage("*Stop strings*");
    }

    [Fact]
    public void Stop_strings_hold_back_possible_prefixes_and_cut_at_the_match()
    {
        var m = new StopStringMatcher(["###", "END"]);
        m.Push("Hello #").Should().Be(("Hello ", false));
        m.Push("# wor").Should().Be(("## wor", false));     // "## " cannot start a stop string any more
        m.Push("ld E").Should().Be(("ld ", false));
        m.Push("N").Should().Be(("", false));
        m.Push("Dx").Should().Be(("", true));                // "END" completed: nothing after it
        var n = new StopStringMatcher(["</s>"]);
        n.Push("a</").Should().Be(("a", false));
        n.Flush().Should().Be("</");
    }
}
