using PureLlama.Cli.Demo;

namespace PureLlama.Tests.Demo;

/// <summary>The demo's scores: valid-JSON rate, exact match and micro-averaged field F1.</summary>
public class ExtractionScoreTests
{
    private const string Gold = """{"book":"John","chapter":3,"verse":16}""";

    [Fact]
    public void Counts_valid_exact_and_field_matches()
    {
        var s = ExtractionScore.Of(
        [
            Gold,                                                   // exact: 3 of 3
            """ {"verse":16,"chapter":3,"book":"John"} """,         // exact in another order, white space around
            """{"book":"John","chapter":"3","verse":17}""",         // book right; "3" is not 3; verse wrong
            """{"book":"John","chapter":3,"verse":16,"note":1}""",  // 3 right, one extra field: not exact
            "And the LORD spake unto Moses",                        // not JSON
            "[1, 2, 3]",                                            // JSON but not an object
        ], [Gold, Gold, Gold, Gold, Gold, Gold]);
        s.Count.Should().Be(6);
        s.ValidJson.Should().Be(4);
        s.Exact.Should().Be(2);
        s.CorrectFields.Should().Be(3 + 3 + 1 + 3);
        s.PredictedFields.Should().Be(3 + 3 + 3 + 4);
        s.ExpectedFields.Should().Be(18);
        double p = 10.0 / 13, r = 10.0 / 18;
        s.FieldF1.Should().BeApproximately(2 * p * r / (p + r), 1e-12);
        s.ValidJsonRate.Should().BeApproximately(4.0 / 6, 1e-12);
        s.ExactMatch.Should().BeApproximately(2.0 / 6, 1e-12);
    }

    [Fact]
    public void Nothing_valid_scores_zero_and_a_bad_expected_answer_is_named()
    {
        var s = ExtractionScore.Of(["", "{"], [Gold, Gold]);
        (s.ValidJson, s.Exact, s.FieldF1).Should().Be((0, 0, 0.0));
        var act = () => ExtractionScore.Of(["{}"], ["not json"]);
        act.Should().Throw<ArgumentException>().WithMessage("*'not json'*");
    }
}
