using PureLlama.Cli.Demo;
using PureLlama.Tensors;
using Xunit.Abstractions;

namespace PureLlama.Tests.Demo;

/// <summary>
/// A shortened <c>purellama demo</c> on the shipped demo model (models/demo): NF4 load, QLoRA fine-tune on a slice of
/// the instruction set, PEFT adapter, merge, answers before and after. Checks that the pipeline runs end to end and
/// that afterwards the answers follow the instruction set's phrasing, which the pretrained model never produces.
/// </summary>
public class DemoPipelineTests(ITestOutputHelper output)
{
    [Fact]
    public void ShortenedDemoTeachesTheInstructionSetsAnswers()
    {
        string model = DemoPipeline.FindModelDirectory(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException("models/demo was not found above the test's folder");
        string dir = Path.Combine(Path.GetTempPath(), "purellama-demo-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            // A slice of the set: the "which book comes after …" questions (answer: "The book after X is Y.").
            string subset = Path.Combine(dir, "subset.jsonl");
            Directory.CreateDirectory(dir);
            var lines = File.ReadLines(Path.Combine(model, "instructions.jsonl")).Where(l => l.Contains("comes after", StringComparison.Ordinal)).Take(16).ToList();
            File.WriteAllLines(subset, lines);
            var questions = lines.Take(3).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("instruction").GetString()!).ToArray();
            var log = new StringWriter();
            var result = DemoPipeline.Run(new DemoOptions
            {
                ModelDirectory = model, OutputDirectory = dir, InstructionsPath = subset, Device = Device.Cpu, Seed = 42,
                Steps = 24, LearningRate = 1e-2f, LoraR = 8, LoraAlpha = 16, HeldOutExamples = 3, MaxNewTokens = 12,
                Questions = questions, TextPrompts = [],
            }, log);
            output.WriteLine(log.ToString());
            output.WriteLine(DemoPipeline.Summary(result));

            Assert.True(result.HeldOutLossAfter < result.HeldOutLossBefore - 1.0,
                $"held-out loss {result.HeldOutLossBefore} → {result.HeldOutLossAfter}: the fine-tune did not generalise the phrasing");
            foreach (var a in result.Answers)
            {
                // Before: the pretrained model continues Bible text; after: the set's phrasing "The book after …".
                Assert.True(a.SharedLeadingWords(a.Before) == 0, $"before the fine-tune '{a.Question}' was already answered '{a.Before}'");
                Assert.True(a.SharedLeadingWords(a.WithAdapter) >= 3, $"with the adapter '{a.Question}' was answered '{a.WithAdapter}', expected '{a.Expected}'");
                Assert.True(a.SharedLeadingWords(a.Merged!) >= 3, $"merged, '{a.Question}' was answered '{a.Merged}', expected '{a.Expected}'");
            }
            Assert.True(File.Exists(Path.Combine(result.AdapterDirectory, "adapter_model.safetensors")));
            Assert.True(File.Exists(Path.Combine(result.AdapterDirectory, "adapter_config.json")));
            Assert.True(File.Exists(Path.Combine(result.MergedDirectory!, "model.safetensors")));
            Assert.True(File.Exists(result.LossCurve));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void FindsTheShippedModelAndRejectsUnknownQuestions()
    {
        string model = DemoPipeline.FindModelDirectory(AppContext.BaseDirectory)!;
        Assert.True(File.Exists(Path.Combine(model, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(model, "tokenizer.json")));
        var e = Assert.Throws<InvalidDataException>(() => DemoPipeline.Run(new DemoOptions
        {
            ModelDirectory = model, OutputDirectory = Path.Combine(Path.GetTempPath(), "purellama-demo-unused"), Questions = ["What is the answer?"],
        }, TextWriter.Null));
        Assert.Contains("What is the answer?", e.Message, StringComparison.Ordinal);
    }
}
