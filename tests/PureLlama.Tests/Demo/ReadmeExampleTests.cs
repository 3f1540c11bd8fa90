using PureLlama.Cli.Demo;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tokenization;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Tests.Demo;

/// <summary>The library example of README.md ("From C#"), kept compiling and running here (2 steps instead of 200).</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void ReadmeQloraExampleRuns()
    {
        string modelDir = DemoPipeline.FindModelDirectory(AppContext.BaseDirectory)!;
        string runDir = Path.Combine(Path.GetTempPath(), "purellama-readme-" + Guid.NewGuid().ToString("N"));
        int maxSteps = 2;
        var text = new System.Text.StringBuilder();
        try
        {
            // --- README example (paths and step count are variables here) ---
            using var llama = LlamaRuntime.Load(modelDir, quantize: QuantizationConfig.Nf4());   // NF4 base, as QLoRA
            var tok = llama.Tokenizer!;
            var data = SftDataset.Load(Path.Combine(modelDir, "instructions.jsonl"), tok);      // Alpaca / messages / text JSONL
            using var lora = LoraAdapter.Attach(llama.Model, new LoraConfig { R = 8, Alpha = 16, TargetModules = LoraConfig.AllLinear }, seed: 42);
            var rows = TrainingData.From(data.Examples, heldOut: null, new BatcherOptions { MaxSeqLength = 128, Pack = true, Seed = 42 });
            var options = new TrainerOptions { OutputDirectory = runDir, MaxSteps = maxSteps, LearningRate = 3e-3f, Schedule = ScheduleKind.Constant };
            using var trainer = new Trainer(llama.Model, new LoraWeights(lora), rows, options);
            var result = trainer.Train();                                                            // checkpoints in run/
            lora.Save(Path.Combine(runDir, "adapter"));                                          // PEFT format
            lora.Eval();
            var prompt = tok.ChatTemplate.Encode([ChatTurn.User("Which book comes after Genesis?")]);
            foreach (var t in llama.Generate(prompt, SamplingOptions.Greedy with { MaxNewTokens = 20 })) text.Append(t.Text);
            // --- end of the README example ---
            Assert.Equal(maxSteps, result.Steps);
            Assert.True(File.Exists(Path.Combine(runDir, "adapter", "adapter_model.safetensors")));
            Assert.NotEmpty(text.ToString());
        }
        finally
        {
            if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
        }
    }
}
