using System.CommandLine;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tokenization;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama finetune --model DIR --data FILE.jsonl --output DIR</c>: supervised fine-tuning with LoRA (default),
/// QLoRA (<c>--quantize nf4</c>: LoRA over 4-bit base projections) or every weight (<c>--full</c>, F32 master weights).
/// </summary>
internal static class FinetuneCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json, *.safetensors, tokenizer.json) or a .gguf file (LoRA/QLoRA)", Required = true };
        var data = new Option<string>("--data") { Description = "JSONL file: alpaca (instruction/input/output), messages (chat) or text records", Required = true };
        var quantize = new Option<string?>("--quantize") { Description = "QLoRA: quantize the frozen base projections while loading (nf4 | int8)" };
        var full = new Option<bool>("--full") { Description = "train every weight (F32) instead of a LoRA adapter" };
        var r = new Option<int>("--lora-r") { Description = "LoRA rank (default 16)", DefaultValueFactory = _ => 16 };
        var alpha = new Option<float>("--lora-alpha") { Description = "LoRA alpha (default 32)", DefaultValueFactory = _ => 32 };
        var dropout = new Option<float>("--lora-dropout") { Description = "LoRA dropout (default 0.05)", DefaultValueFactory = _ => 0.05f };
        var targets = new Option<string>("--target-modules") { Description = "all-linear (default) or a comma list such as q_proj,v_proj", DefaultValueFactory = _ => "all-linear" };
        var trainOnInputs = new Option<bool>("--train-on-inputs") { Description = "also learn the prompt tokens (default: assistant tokens only)" };
        var skipInvalid = new Option<bool>("--skip-invalid-lines") { Description = "skip --data lines that are not valid records (counted in the data summary) instead of stopping at the first" };
        var train = new TrainCliOptions(defaultLr: 2e-4f, defaultOptimizer: "adamw");
        var cmd = new Command("finetune", "Fine-tune a Llama model on a JSONL file (LoRA, QLoRA or full); checkpoints, resume, loss curve.");
        foreach (var o in new Option[] { model, data, quantize, full, r, alpha, dropout, targets, trainOnInputs, skipInvalid }) cmd.Options.Add(o);
        train.AddTo(cmd);
        cmd.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            string dir = parse.GetValue(model)!;
            bool isFull = parse.GetValue(full);
            if (isFull && parse.GetValue(quantize) is not null) throw new ArgumentException("--full trains F32 weights; it cannot be combined with --quantize.");
            using var comm = train.OpenCommunicator(parse);
            var device = train.ResolveDevice(parse);
            var quant = ModelCliOptions.QuantizeOption(parse.GetValue(quantize));
            // A llama.cpp GGUF base: LoRA or QLoRA over its weights as loaded (block formats stay quantized).
            bool isGguf = File.Exists(dir);
            if (isGguf && isFull) throw new ArgumentException($"--full trains the weights of a Hugging Face folder; '{dir}' is a file (use LoRA on a .gguf base).");
            using var ggufBase = isGguf ? LlamaRuntime.Load(dir, device, WeightLoading.Copied, quantize: quant) : null;
            // QLoRA on a dense checkpoint: map the file and quantize one weight at a time (as LlamaRuntime does);
            // copying it whole would keep every dense projection in memory beside its quantized form.
            bool onTheFly = !isGguf && quant is not null && Quantization.QuantizationConfig.FromConfigFile(Path.Combine(dir, "config.json")) is null;
            using var checkpoint = isGguf ? null : HfCheckpoint.Open(dir, onTheFly ? WeightLoading.Mapped : WeightLoading.Copied);
            var config = ggufBase?.Config ?? LlamaConfig.FromFile(checkpoint!.ConfigPath);
            var tokenizer = ggufBase is not null
                ? ggufBase.Tokenizer ?? throw new InvalidDataException($"The GGUF file '{dir}' has no tokenizer, which fine-tuning on text needs.")
                : Llama3Tokenizer.Load(checkpoint!.TokenizerPath
                    ?? throw new FileNotFoundException($"The model folder '{dir}' has no tokenizer.json, which fine-tuning on text needs."));
            var dataset = SftDataset.Load(parse.GetValue(data)!, tokenizer, new SftDatasetOptions
            {
                MaxSeqLength = parse.GetValue(train.MaxSeqLength), TrainOnInputs = parse.GetValue(trainOnInputs), SkipInvalidLines = parse.GetValue(skipInvalid),
            });
            Console.WriteLine($"data: {dataset.Summary}");
            var (trainSet, evalSet) = dataset.Split(parse.GetValue(train.EvalSplit), parse.GetValue(train.Seed));

            using var loaded = ggufBase is not null ? null : isFull ? LoadF32(checkpoint!, config, device)
                : LlamaModel.Load(checkpoint!, config, device, quant, copyKeptWeights: onTheFly);
            var llama = ggufBase?.Model ?? loaded!;
            // The model holds its own references to what it kept; the file's copies (the BF16 originals of widened
            // or quantized weights) and its mapping are freed here, not at the end of training.
            checkpoint?.Dispose();
            if (isFull) return train.Run(parse, comm, llama, new FullWeights(llama, FullWeights.CompanionFilesIn(dir)), trainSet, evalSet, "model");

            var lora = new LoraConfig
            {
                R = parse.GetValue(r), Alpha = parse.GetValue(alpha), Dropout = parse.GetValue(dropout),
                TargetModules = ParseTargets(parse.GetValue(targets)!), BaseModelNameOrPath = Path.GetFullPath(dir),
            };
            using var adapter = LoraAdapter.Attach(llama, lora, parse.GetValue(train.Seed));
            return train.Run(parse, comm, llama, new LoraWeights(adapter), trainSet, evalSet, "adapter");
        }));
        return cmd;
    }

    /// <summary>Every weight as F32 (BF16/F16 checkpoints are widened): the master weights of full training.</summary>
    public static LlamaModel LoadF32(HfCheckpoint checkpoint, LlamaConfig config, Device device)
    {
        config.Validate(checkpoint);
        return LlamaModel.Build(config, device, (name, shape) =>
        {
            var t = checkpoint.GetTensor(name, shape, DType.F32, DType.BF16, DType.F16);
            if (t.DType == DType.F32) return t;
            using (t) return t.To(DType.F32);
        });
    }

    private static IReadOnlyList<string> ParseTargets(string value)
    {
        var v = value.Trim();
        if (v.Equals("all-linear", StringComparison.OrdinalIgnoreCase) || v.Equals("all_linear", StringComparison.OrdinalIgnoreCase)) return LoraConfig.AllLinear;
        var list = v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (list.Length == 0) throw new ArgumentException("--target-modules is empty.");
        return list;
    }
}
