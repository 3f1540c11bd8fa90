using PureLlama.Llama;
using PureLlama.Autograd;
using PureLlama.Nn;
using PureLlama.Tensors;
using PureLlama.Training;
using PureLlama.Training.Data;
using Xunit.Abstractions;
using static PureLlama.Tests.Training.TrainingTestSupport;

namespace PureLlama.Tests.Training;

/// <summary>The trainer with a LoRA adapter (dropout on): learning, exact resume, gradient checkpointing replaying dropout.</summary>
public class LoraTrainerTests(ITestOutputHelper output)
{
    private static readonly LoraConfig Lora = new() { R = 8, Alpha = 16, Dropout = 0.1f, TargetModules = LoraConfig.AllLinear };

    private static Trainer MakeTrainer(LlamaModel model, LoraWeights weights, IOptimizer optimizer, IReadOnlyList<TrainingExample> examples,
        TrainerOptions options, int microBatch, double lr)
    {
        var batcher = new SequenceBatcher(examples, new BatcherOptions { MaxSeqLength = 48, MicroBatchSize = microBatch, Seed = 5, Pack = true });
        return new Trainer(model, weights, new TrainingData(batcher),
            options with { LearningRate = (float)lr, Schedule = ScheduleKind.Linear, WarmupSteps = 3 }, optimizer);
    }

    [Fact]
    public void Lora_on_a_frozen_model_learns_the_answers()
    {
        string dir = TempDir();
        try
        {
            using var model = TinyModel(seed: 21);
            using var adapter = LoraAdapter.Attach(model, Lora with { Dropout = 0f, TargetModules = [.. LoraConfig.AllLinear, "lm_head"] }, seed: 1);
            var weights = new LoraWeights(adapter);
            var frozen = model.Layers[0].Attention.QProj is Nn.LoraLinear ql ? ql.Base.DenseWeight().ToFloatArray() : throw new InvalidOperationException();
            using var opt = new AdamWOptimizer(weights.Parameters);
            var trainer = MakeTrainer(model, weights, opt, QaExamples(), new TrainerOptions { OutputDirectory = dir, MaxSteps = 60 }, 8, 1e-2);
            var result = trainer.Train();
            output.WriteLine(string.Join(" ", trainer.State.LogHistory.Where(l => l.Step % 10 == 0).Select(l => $"{l.Loss:F3}/{l.GradNorm:F2}")));
            output.WriteLine($"{weights.Summary}; loss {result.FirstLoss:F4} → {result.LastLoss:F4}");
            result.LastLoss.Should().BeLessThan(0.1);
            adapter.Eval();
            for (int i = 0; i < 8; i++)
            {
                var (prompt, answer) = Pair(i);
                Greedy(model, prompt, answer.Length).Should().Equal(answer, $"question {i} gets its taught answer");
            }
            ((Nn.LoraLinear)model.Layers[0].Attention.QProj).Base.DenseWeight().ToFloatArray().Should().Equal(frozen, "the base weights stay frozen");
            File.Exists(Path.Combine(dir, "checkpoint-60", LoraAdapter.WeightsFileName)).Should().BeTrue();
            File.Exists(Path.Combine(dir, "checkpoint-60", LoraAdapter.ConfigFileName)).Should().BeTrue();
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Lora_resume_with_dropout_reproduces_the_losses_bit_for_bit()
    {
        var examples = RandomExamples(8, seed: 31);
        TrainerOptions Options(string dir, bool resume = false) => new() { OutputDirectory = dir, MaxSteps = 6, SaveSteps = 3, Resume = resume };
        string a = TempDir(), b = TempDir();
        try
        {
            List<StepLog> full, resumed;
            using (var model = TinyModel(seed: 8))
            using (var adapter = LoraAdapter.Attach(model, Lora, seed: 2))
            {
                var w = new LoraWeights(adapter);
                using var opt = new AdamWOptimizer(w.Parameters);
                var t = MakeTrainer(model, w, opt, examples, Options(a), 2, 1e-2);
                t.Train();
                full = t.State.LogHistory;
            }
            using (var model = TinyModel(seed: 8))
            using (var adapter = LoraAdapter.Attach(model, Lora, seed: 2))
            {
                var w = new LoraWeights(adapter);
                using var opt = new AdamWOptimizer(w.Parameters);
                var t = MakeTrainer(model, w, opt, examples, Options(b), 2, 1e-2);
                for (int s = 0; s < 3; s++) t.Step();
                t.SaveCheckpoint();
            }
            using (var model = TinyModel(seed: 8))
            using (var adapter = LoraAdapter.Attach(model, Lora, seed: 2))    // same dropout stream; its counter and A/B come from the checkpoint
            {
                var w = new LoraWeights(adapter);
                foreach (var p in w.Parameters) p.Value.Backend.Scale(p.Value, 0.5f, p.Value);
                adapter.DropoutState = 12345;
                using var opt = new AdamWOptimizer(w.Parameters);
                var t = MakeTrainer(model, w, opt, examples, Options(b, resume: true), 2, 1e-2);
                t.Train();
                resumed = t.State.LogHistory;
            }
            resumed.Should().HaveCount(6);
            for (int s = 0; s < 6; s++)
            {
                output.WriteLine($"step {s + 1}: {full[s].Loss:R} vs {resumed[s].Loss:R}");
                BitConverter.DoubleToInt64Bits(resumed[s].Loss).Should().Be(BitConverter.DoubleToInt64Bits(full[s].Loss), $"step {s + 1} loss is identical");
            }
        }
        finally { Directory.Delete(a, true); Directory.Delete(b, true); }
    }

    [Fact]
    public void Gradient_checkpointing_replays_dropout_and_gives_the_same_gradients()
    {
        var row = SequencePacker.Concatenate(RandomExamples(2, seed: 4));
        var (ids, labels, positions, segments) = Trainer.Flatten([row]);
        Dictionary<string, float[]> Grads(bool checkpointing)
        {
            using var model = TinyModel(seed: 6);
            using var adapter = LoraAdapter.Attach(model, Lora with { Dropout = 0.3f }, seed: 3);
            var w = new LoraWeights(adapter);
            model.GradientCheckpointing = checkpointing;
            using var idsT = Tensor.FromArray(ids, new Shape(ids.Length));
            using var logits = model.Forward(idsT, positions, segments);
            using var loss = LlamaModel.CausalLmLoss(logits, labels);
            loss.Backward();
            adapter.DropoutState.Should().Be(14UL, "each of the 14 wrapped projections drew one mask, recomputation included");
            return w.Parameters.ToDictionary(p => p.Name, p => p.Value.Grad!.ToFloatArray());
        }
        var plain = Grads(false);
        var recomputed = Grads(true);
        foreach (var (name, g) in plain) recomputed[name].Should().Equal(g, $"{name} gets the same gradient");
    }
}
