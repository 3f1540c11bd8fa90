using System.CommandLine;
using System.Text.Json;
using PureLlama.Llama;
using PureLlama.Tokenization;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama pretrain --config CONFIG.json --tokenizer DIR --data FILE.txt --output DIR</c>: a Llama initialised as
/// Hugging Face does (normal(0, initializer_range) linears and embeddings, unit norms), every weight trained (F32, AdamW, cosine).
/// </summary>
internal static class PretrainCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "a Llama config.json (vocab_size must cover the tokenizer)", Required = true };
        var tokenizerDir = new Option<string>("--tokenizer") { Description = "folder with tokenizer.json (and tokenizer_config.json)", Required = true };
        var data = new Option<string>("--data") { Description = "plain-text file; documents separated by blank lines", Required = true };
        var train = new TrainCliOptions(defaultLr: 3e-4f, defaultOptimizer: "adamw");
        var cmd = new Command("pretrain", "Train a randomly initialised Llama on a text file (full training, AdamW, cosine schedule).");
        foreach (var o in new Option[] { config, tokenizerDir, data }) cmd.Options.Add(o);
        train.AddTo(cmd);
        cmd.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            using var comm = train.OpenCommunicator(parse);
            string configPath = parse.GetValue(config)!, tokDir = parse.GetValue(tokenizerDir)!;
            var cfg = LlamaConfig.FromFile(configPath);
            string tokPath = Path.Combine(tokDir, "tokenizer.json");
            if (!File.Exists(tokPath)) throw new FileNotFoundException($"No tokenizer.json in '{tokDir}'.", tokPath);
            var tokenizer = Llama3Tokenizer.Load(tokPath);
            var dataset = TextDataset.Load(parse.GetValue(data)!, tokenizer, new TextDatasetOptions
            {
                SequenceLength = parse.GetValue(train.MaxSeqLength), EvalFractionOrCount = parse.GetValue(train.EvalSplit), Seed = parse.GetValue(train.Seed),
            });
            Console.WriteLine($"data: {dataset.Summary}");
            int maxId = dataset.Train.Concat(dataset.Eval).Max(e => e.Ids.Max());
            if (maxId >= cfg.VocabSize) throw new ArgumentException($"The tokenizer produced id {maxId}; '{configPath}' has vocab_size {cfg.VocabSize}.");
            using var model = LlamaModel.CreateRandom(cfg, train.ResolveDevice(parse), parse.GetValue(train.Seed), InitializerRange(configPath));
            // The config travels as config.json whatever the file given is called, so every checkpoint and the final
            // model folder load directly.
            string staged = Path.Combine(Path.GetTempPath(), "purellama-pretrain-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(staged);
            try
            {
                File.Copy(configPath, Path.Combine(staged, "config.json"));
                var companions = new List<string> { Path.Combine(staged, "config.json") };
                companions.AddRange(new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" }
                    .Select(f => Path.Combine(tokDir, f)).Where(File.Exists));
                return train.Run(parse, comm, model, new FullWeights(model, companions), dataset.Train, dataset.Eval, "model");
            }
            finally { Directory.Delete(staged, recursive: true); }
        }));
        return cmd;
    }

    // config.json initializer_range (HF's default 0.02); LlamaConfig.FromFile has already read the file strictly.
    private static float InitializerRange(string configPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        if (!doc.RootElement.TryGetProperty("initializer_range", out var v) || v.ValueKind == JsonValueKind.Null) return 0.02f;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double r) && r > 0 && r <= 10) return (float)r;
        throw new InvalidDataException($"Field 'initializer_range' in '{configPath}' is {v.GetRawText()}; expected a number in (0, 10].");
    }
}
