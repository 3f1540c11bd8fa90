using System.CommandLine;
using System.Globalization;
using PureLlama.Cli.Commands;
using PureLlama.Llama;
using PureLlama.Tokenization;
using PureLlama.Training;

namespace PureLlama.Tests.Training;

/// <summary>
/// purellama pretrain → finetune (LoRA, with a resume) → finetune --full, end to end on a tiny model with a BPE
/// tokenizer trained here (the llama3-tiny fixture has no tokenizer and a 256-id vocabulary, too small for a byte-level one).
/// </summary>
public class TrainingCliTests
{
    private static int Cli(params string[] args)
    {
        var root = new RootCommand("test");
        root.Subcommands.Add(FinetuneCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        return root.Parse(args).Invoke();
    }

    [Fact]
    public void Pretrain_then_finetune_with_resume_then_full_finetune()
    {
        string dir = TrainingTestSupport.TempDir();
        try
        {
            string[] names = ["alice", "bob", "carol", "dave"], colors = ["red", "blue", "green", "black"];
            string text = string.Join("\n\n", Enumerable.Range(0, 40).Select(i => $"{names[i % 4]} likes {colors[(i / 4) % 4]}. the {colors[i % 4]} ball is here."));
            File.WriteAllText(Path.Combine(dir, "text.txt"), text);
            File.WriteAllLines(Path.Combine(dir, "qa.jsonl"), names.Select((n, i) => $$"""{"instruction": "what does {{n}} like?", "output": "{{n}} likes {{colors[i]}}."}"""));
            var vocab = BpeTrainer.Train([text], new BpeTrainerOptions { VocabSize = 300, SpecialTokenCount = 16 });
            string tok = Path.Combine(dir, "tok");
            BpeTokenizerWriter.Save(vocab, tok);
            int bos = vocab.Tokens.Count, eos = bos + 1;
            File.WriteAllText(Path.Combine(dir, "tiny-config.json"), string.Create(CultureInfo.InvariantCulture, $$"""
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": {{vocab.VocabSize}}, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                 "max_position_embeddings": 128, "tie_word_embeddings": true, "initializer_range": 0.05, "torch_dtype": "float32",
                 "bos_token_id": {{bos}}, "eos_token_id": {{eos}}, "hidden_act": "silu"}
                """));
            string pre = Path.Combine(dir, "pre");
            Cli("pretrain", "--config", Path.Combine(dir, "tiny-config.json"), "--tokenizer", tok, "--data", Path.Combine(dir, "text.txt"), "--output", pre,
                "--device", "cpu", "--max-seq-length", "32", "--batch-size", "2", "--max-steps", "4", "--save-steps", "2", "--lr", "3e-3", "--eval-split", "2")
                .Should().Be(0);
            foreach (var f in new[] { "model/model.safetensors", "model/config.json", "model/tokenizer.json", "checkpoint-2/optimizer.safetensors", "checkpoint-4/trainer_state.json", "loss_curve.png" })
                File.Exists(Path.Combine(pre, f)).Should().BeTrue($"pretrain writes {f} (config.json whatever the --config file is called)");
            var preState = TrainerState.Load(Path.Combine(pre, "checkpoint-4", "trainer_state.json"));
            preState.EvalHistory.Should().HaveCount(2, "held-out loss before and after");
            preState.LogHistory[^1].Loss.Should().BeLessThan(preState.LogHistory[0].Loss);

            string ft = Path.Combine(dir, "ft");
            string[] common = ["finetune", "--model", Path.Combine(pre, "model"), "--data", Path.Combine(dir, "qa.jsonl"), "--output", ft, "--device", "cpu",
                "--max-seq-length", "48", "--batch-size", "2", "--lr", "1e-2", "--save-steps", "2", "--lora-r", "4", "--lora-alpha", "8"];
            Cli([.. common, "--max-steps", "2"]).Should().Be(0);
            Cli([.. common, "--max-steps", "4", "--resume", "--gradient-checkpointing"]).Should().Be(0);
            var state = TrainerState.Load(Path.Combine(ft, "checkpoint-4", "trainer_state.json"));
            state.Step.Should().Be(4);
            state.LogHistory.Should().HaveCount(4, "the resumed run continues the history of the first");
            File.Exists(Path.Combine(ft, "adapter", LoraAdapter.WeightsFileName)).Should().BeTrue();
            File.Exists(Path.Combine(ft, "adapter", LoraAdapter.ConfigFileName)).Should().BeTrue();

            string qlora = Path.Combine(dir, "qlora");
            Cli("finetune", "--model", Path.Combine(pre, "model"), "--data", Path.Combine(dir, "qa.jsonl"), "--output", qlora, "--device", "cpu",
                "--quantize", "nf4", "--max-steps", "2", "--max-seq-length", "48", "--lora-r", "4", "--lora-alpha", "8", "--lr", "1e-2").Should().Be(0);
            File.Exists(Path.Combine(qlora, "adapter", LoraAdapter.WeightsFileName)).Should().BeTrue("QLoRA maps the dense file, quantizes it one weight at a time and trains an adapter");

            string full = Path.Combine(dir, "full");
            Cli("finetune", "--model", Path.Combine(pre, "model"), "--data", Path.Combine(dir, "qa.jsonl"), "--output", full, "--device", "cpu",
                "--full", "--max-steps", "2", "--max-seq-length", "48", "--lr", "1e-3").Should().Be(0);
            using var runtime = LlamaRuntime.Load(Path.Combine(full, "model"));
            runtime.Tokenizer.Should().NotBeNull("the tokenizer is copied next to the weights");
            runtime.Logits(runtime.Encode("alice likes")).Should().OnlyContain(v => float.IsFinite(v));

            Cli("finetune", "--model", Path.Combine(pre, "model"), "--data", Path.Combine(dir, "missing.jsonl"), "--output", full).Should().Be(2, "a missing file is a clean error");
        }
        finally { Directory.Delete(dir, true); }
    }
}
