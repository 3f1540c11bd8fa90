using PureLlama.Cli.Demo;

namespace PureLlama.Tests.Demo;

/// <summary>The demo's statement of how held out its held-out split is, and the shipped splits themselves.</summary>
public class SplitOverlapTests
{
    [Fact]
    public void Counts_held_out_values_and_answers_that_training_never_has()
    {
        string[] train = ["{\"party\":\"Job\",\"amount\":5}", "{\"party\":\"John\",\"amount\":\"7\"}"];
        string[] held = ["{\"amount\":5,\"party\":\"Job\"}", "{\"party\":\"Job\",\"amount\":7}", "{\"party\":\"Esther\",\"amount\":9}"];
        var o = SplitOverlap.Of(train, held);
        o.Fields.Should().Equal(("amount", 3, 2), ("party", 2, 1));   // 7 ≠ "7"; fields in held-out order
        o.AnswersInTraining.Should().Be(1, "the first held-out answer is a training answer with its fields in another order");
        o.Describe().Should().Be("amount 2 of 3, party 1 of 2 held-out values never occur in training; 1 of 3 held-out answers do");
        var bad = () => SplitOverlap.Of(["[1]"], held);
        bad.Should().Throw<ArgumentException>().WithMessage("*'[1]'*not a JSON object*");
    }

    [Fact]
    public void Shipped_heldout_split_has_no_answer_that_training_has()
    {
        string model = DemoPipeline.FindModelDirectory(AppContext.BaseDirectory) ?? throw new InvalidOperationException("models/demo not found");
        static IEnumerable<string> Outputs(string path) => File.ReadLines(path).Where(l => l.Length > 0)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("output").GetString()!);
        var o = SplitOverlap.Of(Outputs(Path.Combine(model, DemoOptions.TrainFileName)), [.. Outputs(Path.Combine(model, DemoOptions.HeldOutFileName))]);
        o.AnswersInTraining.Should().Be(0, "the held-out split holds combinations that training never has");
        o.Fields.Select(f => f.Field).Should().Equal("party", "place", "subject", "amount");
    }
}
