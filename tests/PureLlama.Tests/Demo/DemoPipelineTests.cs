using PureLlama.Cli.Demo;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Demo;

/// <summary>
/// A shortened <c>purellama demo</c> on the shipped demo model (models/demo): a slice of the extraction splits, a few
/// full fine-tuning steps, the saved model loaded back, scores before and after, the pictures. Checks that the
/// pipeline runs end to end and that the pretrained model writes no JSON while the fine-tuned one does.
/// </summary>
public class DemoPipelineTests(ITestOutputHelper output)
{
    private static string ModelDir() => DemoPipeline.FindModelDirectory(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException("models/demo was not found above the test's folder");

    [Fact]
    public void Shortened_demo_learns_to_answer_in_JSON_and_writes_its_model_and_pictures()
    {
        string model = ModelDir();
        string dir = Path.Combine(Path.GetTempPath(), "purellama-demo-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(dir);
            string train = Path.Combine(dir, "train.jsonl");
            File.WriteAllLines(train, File.ReadLines(Path.Combine(model, DemoOptions.TrainFileName)).Take(120));
            var log = new StringWriter();
            var result = DemoPipeline.Run(new DemoOptions
            {
                ModelDirectory = model, OutputDirectory = dir, TrainPath = train, Device = Device.Cpu, Seed = 42,
                Steps = 100, LearningRate = 2e-3f, HeldOutCount = 6,
            }, log);
            output.WriteLine(log.ToString());
            output.WriteLine(DemoPipeline.Summary(result));

            result.Before.ValidJson.Should().Be(0, "the pretrained model writes Bible verses, not JSON");
            result.After.ValidJsonRate.Should().BeGreaterThanOrEqualTo(0.5, "100 steps teach the output format");
            result.HeldOutLossAfter.Should().BeLessThan(result.HeldOutLossBefore - 3);
            result.Shown.Should().HaveCount(3);
            log.ToString().Should().Contain("▶").And.Contain("never trained on");
            File.Exists(Path.Combine(result.ModelDirectory, "model.safetensors")).Should().BeTrue();
            File.Exists(Path.Combine(result.ModelDirectory, "tokenizer.json")).Should().BeTrue();
            foreach (var png in new[] { result.LossCurve, result.ScoresChart })
                File.ReadAllBytes(png).Take(8).Should().Equal(PureLlama.Cli.Charts.PngWriter.Signature.ToArray());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Finds_the_shipped_model_and_names_a_missing_split()
    {
        string model = ModelDir();
        File.Exists(Path.Combine(model, "model.safetensors")).Should().BeTrue();
        File.Exists(Path.Combine(model, DemoOptions.HeldOutFileName)).Should().BeTrue();
        string missing = Path.Combine(Path.GetTempPath(), "no-such-split.jsonl");
        var act = () => DemoPipeline.Run(new DemoOptions
        {
            ModelDirectory = model, OutputDirectory = Path.Combine(Path.GetTempPath(), "purellama-demo-unused"), HeldOutPath = missing,
        }, TextWriter.Null);
        act.Should().Throw<FileNotFoundException>().WithMessage($"*{missing}*");
    }
}
