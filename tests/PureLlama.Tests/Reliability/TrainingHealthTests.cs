using System.CommandLine;
using PureLlama.Cli.Commands;
using PureLlama.Cli.Display;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Training;
using PureLlama.Training.Data;
using static PureLlama.Tests.Training.TrainingTestSupport;

namespace PureLlama.Tests.Reliability;

/// <summary>Divergence is reported with its true reason, stops the run with an intact last checkpoint, and a uniform stuck model warns.</summary>
[Collection(PureLlama.Tests.Cli.ConsoleCaptureCollection.Name)]
public sealed class TrainingHealthTests(CorpusFixture fx) : IClassFixture<CorpusFixture>
{
    private static (Trainer Trainer, StringWriter Log, TrainingProgress Progress) MakeTrainer(LlamaModel model, ITrainableWeights weights, IOptimizer opt,
        string dir, int steps, int saveSteps = 0)
    {
        var batcher = new SequenceBatcher(QaExamples(), new BatcherOptions { MaxSeqLength = 48, MicroBatchSize = 4, Shuffle = false, Pack = true });
        var log = new StringWriter();
        var options = new TrainerOptions
        {
            OutputDirectory = dir, MaxSteps = steps, SaveSteps = saveSteps, MaxNonFiniteSteps = 5, LearningRate = 1e-2f, Schedule = ScheduleKind.Constant,
        };
        var trainer = new Trainer(model, weights, new TrainingData(batcher), options, opt);
        return (trainer, log, new TrainingProgress(log, live: false));
    }

    [Fact]
    public void A_NaN_weight_is_named_skipped_and_stops_the_run_with_the_last_checkpoint_intact()
    {
        string dir = TempDir();
        try
        {
            using var model = TinyModel(seed: 3);
            var weights = new FullWeights(model, []);
            using var opt = new AdamWOptimizer(weights.Parameters);
            var (trainer, log, progress) = MakeTrainer(model, weights, opt, dir, steps: 20, saveSteps: 2);
            var victim = weights.Parameters.First(p => p.Name.Contains("layers.1.mlp.up_proj", StringComparison.Ordinal));
            string? saved = null;
            trainer.BeforeCheckpointCommit = temp =>
            {
                if (trainer.State.Step != 2) return;
                saved = Path.Combine(dir, "checkpoint-2");
                var v = victim.Value.ToArray<float>();
                v[7] = float.NaN; // poisoned after checkpoint-2's files are written
                using var poisoned = Tensor.FromArray(v, victim.Value.Shape);
                victim.Value.Backend.Copy(poisoned, victim.Value);
            };
            var e = FluentActions.Invoking(() => trainer.Train(default, progress)).Should().Throw<TrainingDivergedException>().Which;
            e.Message.Should().Contain("5 consecutive steps up to step 7").And.Contain("checkpoint-2").And.Contain("intact");
            string text = log.ToString();
            text.Should().Contain($"step 3: update skipped (non-finite loss NaN; first non-finite parameter: '{victim.Name}' at index 7)");
            text.Should().NotContain("no scored token");
            text.Should().Contain("step 4: checkpoint not saved");
            Directory.Exists(Path.Combine(dir, "checkpoint-4")).Should().BeFalse();
            Trainer.LatestCheckpoint(dir).Should().Be(saved);
            using var file = SafeTensorsFile.Open(Path.Combine(saved!, "model.safetensors"));
            foreach (var t in file.Tensors)
            {
                using var stored = file.GetTensor(t.Name);
                FiniteValues.FirstNonFinite(stored.ToArray<float>()).Should().Be(-1, $"{t.Name} in the last checkpoint is finite");
            }
            TrainerState.Load(Path.Combine(saved!, "trainer_state.json")).Step.Should().Be(2);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void A_model_stuck_at_the_uniform_distribution_warns()
    {
        string dir = TempDir();
        try
        {
            using var model = TinyModel(seed: 1);
            foreach (var (_, w) in model.NamedWeights()) // zero matrices: uniform logits, zero gradients (a saturated model's symptom)
                if (w.Shape.Rank == 2)
                {
                    using var zeros = Tensor.Zeros(w.Shape, w.DType);
                    w.Backend.Copy(zeros, w);
                }
            var weights = new FullWeights(model, []);
            using var opt = new AdamWOptimizer(weights.Parameters);
            var (trainer, log, progress) = MakeTrainer(model, weights, opt, dir, steps: 3);
            trainer.Train(default, progress);
            log.ToString().Should().Contain("warning: step 1: loss 3.8712 is ln(vocab) = 3.8712 with a zero gradient norm");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Finetune_with_an_exploding_learning_rate_exits_3_naming_the_divergence()
    {
        string output = Path.Combine(fx.Root, "diverge-" + Guid.NewGuid().ToString("N")[..6]);
        var root = new RootCommand("test");
        root.Subcommands.Add(FinetuneCommand.Create());
        var stderr = new StringWriter();
        var previous = Console.Error;
        Console.SetError(stderr);
        int code;
        try
        {
            code = root.Parse(["finetune", "--model", fx.Corpus.Dense, "--data", fx.Corpus.Sft, "--output", output, "--device", "cpu",
                "--max-seq-length", "48", "--batch-size", "1", "--lr", "1e30", "--max-steps", "12", "--save-steps", "1", "--lora-r", "4",
                "--warmup-steps", "0", "--max-grad-norm", "0"]).Invoke();
        }
        finally { Console.SetError(previous); }
        code.Should().Be(3, stderr.ToString());
        stderr.ToString().Should().Contain("Training diverged").And.Contain("non-finite");
        Trainer.LatestCheckpoint(output).Should().NotBeNull("the checkpoint of the last finite step stays");
    }
}
