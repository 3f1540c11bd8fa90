using PureLlama.Training;
using PureLlama.Training.Data;
using static PureLlama.Tests.Training.TrainingTestSupport;

namespace PureLlama.Tests.Training;

/// <summary>How a run starts and stops: cancellation checkpoints, resume with nothing to resume, another run's output folder.</summary>
public class TrainerRunControlTests
{
    private static Trainer Make(PureLlama.Llama.LlamaModel model, TrainerOptions options) =>
        new(model, new FullWeights(model, []), TrainingData.From(RandomExamples(6, seed: 2), null, new BatcherOptions { MaxSeqLength = 48, Seed = 1 }),
            options with { LearningRate = 1e-2f });

    private sealed class Recorder : IProgress<TrainingEvent>
    {
        public List<TrainingEvent> Events { get; } = [];
        public Action<TrainingEvent>? Then { get; init; }
        public void Report(TrainingEvent value) { Events.Add(value); Then?.Invoke(value); }
    }

    [Fact]
    public void Cancelling_writes_a_checkpoint_of_the_last_step_names_it_and_resume_continues_from_it()
    {
        string dir = TempDir();
        try
        {
            using var cts = new CancellationTokenSource();
            var rec = new Recorder { Then = e => { if (e is StepReport { Step: 3 }) cts.Cancel(); } };
            using (var model = TinyModel(seed: 3))
            using (var t = Make(model, new TrainerOptions { OutputDirectory = dir, MaxSteps = 10 }))
            {
                var act = () => t.Train(cts.Token, rec);
                act.Should().Throw<OperationCanceledException>().WithMessage("*step 3 of 10*checkpoint-3*");
                t.State.Step.Should().Be(3);
            }
            rec.Events.OfType<CheckpointReport>().Select(c => c.Step).Should().Equal(3);
            rec.Events.OfType<StepReport>().Should().HaveCount(3);
            Trainer.LatestCheckpoint(dir).Should().EndWith("checkpoint-3");

            var resumed = new Recorder();
            using (var model = TinyModel(seed: 3))
            using (var t = Make(model, new TrainerOptions { OutputDirectory = dir, MaxSteps = 10, Resume = true }))
                t.Train(CancellationToken.None, resumed).Steps.Should().Be(10);
            resumed.Events.OfType<ResumeReport>().Single().Step.Should().Be(3);
            resumed.Events.OfType<StepReport>().Select(s => s.Step).Should().Equal(4, 5, 6, 7, 8, 9, 10);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Cancelled_before_the_first_step_saves_nothing()
    {
        string dir = TempDir();
        try
        {
            using var model = TinyModel();
            using var t = Make(model, new TrainerOptions { OutputDirectory = dir, MaxSteps = 4 });
            var act = () => t.Train(new CancellationToken(canceled: true));
            act.Should().Throw<OperationCanceledException>().WithMessage("*before its first step*");
            Trainer.LatestCheckpoint(dir).Should().BeNull();
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Resume_with_nothing_to_resume_is_an_error()
    {
        string dir = TempDir();
        try
        {
            using var model = TinyModel();
            using var t = Make(model, new TrainerOptions { OutputDirectory = dir, MaxSteps = 2, Resume = true });
            var act = () => t.Train();
            act.Should().Throw<InvalidOperationException>().WithMessage($"Nothing to resume*{dir}*");
            t.State.Step.Should().Be(0, "no step was taken");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Another_runs_checkpoints_are_refused_without_overwrite_and_deleted_with_it()
    {
        string dir = TempDir();
        try
        {
            using (var model = TinyModel())
            using (var t = Make(model, new TrainerOptions { OutputDirectory = dir, MaxSteps = 2 }))
                t.Train();
            using (var model = TinyModel())
            using (var t = Make(model, new TrainerOptions { OutputDirectory = dir, MaxSteps = 1 }))
            {
                var act = () => t.Train();
                act.Should().Throw<InvalidOperationException>().WithMessage("*another run's checkpoints (checkpoint-2)*overwrite*");
            }
            Directory.Exists(Path.Combine(dir, "checkpoint-2")).Should().BeTrue("a refused run leaves the folder as it was");
            using (var model = TinyModel())
            using (var t = Make(model, new TrainerOptions { OutputDirectory = dir, MaxSteps = 1, Overwrite = true }))
                t.Train();
            Directory.GetDirectories(dir).Select(Path.GetFileName).Should().Equal("checkpoint-1");
            var both = () => new TrainerOptions { OutputDirectory = dir, Resume = true, Overwrite = true }.Validate();
            both.Should().Throw<ArgumentException>().WithMessage("*exclude each other*");
        }
        finally { Directory.Delete(dir, true); }
    }
}
