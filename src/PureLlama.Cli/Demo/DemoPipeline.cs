using System.Diagnostics;
using System.Globalization;
using System.Text;
using PureLlama.Cli.Display;
using PureLlama.Compute;
using PureLlama.Llama;
using PureLlama.Quantization;
using PureLlama.Tensors;
using PureLlama.Tokenization;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Cli.Demo;

/// <summary>
/// The first run (<c>purellama demo</c>): loads the small demo model quantized to NF4, lets it continue a few
/// text prompts and answer a few questions of the demo instruction set, QLoRA fine-tunes it on that set (LoRA
/// over the frozen NF4 projections, with the live progress display), saves the PEFT adapter, answers again
/// with the adapter, merges the adapter into the dense weights, answers with the merged model, and returns
/// the figures for a summary. Deterministic for a given <see cref="DemoOptions.Seed"/> on a given machine.
/// </summary>
internal static class DemoPipeline
{
    /// <summary>The demo model's folder relative to the repository root.</summary>
    public const string RelativeModelDirectory = "models/demo";

    /// <summary>
    /// Finds <c>models/demo</c> (a folder with config.json) in <paramref name="start"/> or one of its parents,
    /// then from the application's base directory and its parents (the CLI runs from bin/Release/…). Null when absent.
    /// </summary>
    public static string? FindModelDirectory(string? start = null)
    {
        foreach (var origin in new[] { start ?? Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(origin); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, RelativeModelDirectory);
                if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
            }
        }
        return null;
    }

    /// <summary>Runs the demo, writing what it does to <paramref name="output"/>.</summary>
    /// <param name="options">Model, output folder, steps, seed, device.</param>
    /// <param name="output">Where the narration goes.</param>
    /// <param name="progress">The training display (null: one plain line per step on <paramref name="output"/>).</param>
    /// <param name="cancellationToken">Stops the fine-tune after its current step (a checkpoint is written first).</param>
    /// <exception cref="FileNotFoundException">The model folder or the instruction set is missing.</exception>
    /// <exception cref="InvalidDataException">A question is not in the instruction set.</exception>
    public static DemoResult Run(DemoOptions options, TextWriter output, TrainingProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var total = Stopwatch.StartNew();
        string modelDir = options.ModelDirectory;
        if (!File.Exists(Path.Combine(modelDir, "config.json"))) throw new FileNotFoundException($"'{modelDir}' is not a model folder (no config.json).");
        string dataPath = options.InstructionsPath ?? Path.Combine(modelDir, "instructions.jsonl");
        if (!File.Exists(dataPath)) throw new FileNotFoundException($"The instruction set '{dataPath}' is missing.", dataPath);
        var device = options.Device ?? Backends.DefaultDevice();
        var expected = ReadAnswers(dataPath, options.Questions);
        Directory.CreateDirectory(options.OutputDirectory);
        var gen = new GenerationClock();

        output.WriteLine($"1. Loading {Path.GetFullPath(modelDir)} on {device}, projections quantized to NF4 while loading (QLoRA's base)");
        using var llama = LlamaRuntime.Load(modelDir, device, quantize: QuantizationConfig.Nf4());
        var tok = llama.Tokenizer ?? throw new FileNotFoundException($"'{modelDir}' has no tokenizer.json.");
        var c = llama.Config;
        output.WriteLine($"   Llama 3 architecture: vocab {c.VocabSize}, hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, {c.NumAttentionHeads} heads / {c.NumKeyValueHeads} KV heads, MLP {c.IntermediateSize}; weights {TrainingProgress.Bytes(llama.Model.WeightBytes)} in memory");
        output.WriteLine();
        output.WriteLine($"2. The pretrained model continues text from its corpus (sampled: temperature 0.8, top-k 40, seed {options.Seed}):");
        var sampling = new SamplingOptions { MaxNewTokens = options.MaxNewTokens, Temperature = 0.8f, TopK = 40, Seed = options.Seed };
        foreach (var prompt in options.TextPrompts)
        {
            string text = gen.Run(llama, llama.Encode(prompt), sampling);
            output.WriteLine($"   {prompt}{OneLine(text)}");
        }
        output.WriteLine();
        output.WriteLine("3. It answers questions of the instruction set before fine-tuning:");
        var before = options.Questions.Select(q => Ask(llama, tok, gen, q, options.MaxNewTokens)).ToArray();
        for (int i = 0; i < before.Length; i++) output.WriteLine($"   Q: {options.Questions[i]}\n      {OneLine(before[i])}");
        output.WriteLine();

        // Data: the Alpaca set through the chat template, answers only trained; the shown questions stay in training.
        var dataset = SftDataset.Load(dataPath, tok, new SftDatasetOptions { MaxSeqLength = options.RowTokens });
        var shownLines = expected.Select(e => e.Line).ToHashSet();
        var candidates = dataset.Examples.Where(e => !shownLines.Contains(e.Source)).ToList();
        var (rest, heldOut) = SeededOrder.Split(candidates, Math.Min(options.HeldOutExamples, candidates.Count - 1), options.Seed);
        var train = dataset.Examples.Where(e => shownLines.Contains(e.Source)).Concat(rest).ToList();

        var lora = new LoraConfig
        {
            R = options.LoraR, Alpha = options.LoraAlpha, Dropout = 0, TargetModules = LoraConfig.AllLinear,
            BaseModelNameOrPath = Path.GetFullPath(modelDir),
        };
        using var adapter = LoraAdapter.Attach(llama.Model, lora, options.Seed);
        output.WriteLine($"4. QLoRA fine-tune on {Path.GetFileName(dataPath)}: {train.Count} examples trained, {heldOut.Count} held out; LoRA r={lora.R}, alpha={lora.Alpha} on every projection");
        output.WriteLine($"   {adapter.Summary}");
        var data = TrainingData.From(train, heldOut, new BatcherOptions { MaxSeqLength = options.RowTokens, Pack = true, Seed = options.Seed });
        var weights = new LoraWeights(adapter);
        string runDir = Path.Combine(options.OutputDirectory, "finetune");
        if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true); // a fresh run each time (deterministic output)
        var trainerOptions = new TrainerOptions
        {
            OutputDirectory = runDir, MaxSteps = options.Steps, MaxGradNorm = 1f, EvalSteps = Math.Max(1, options.Steps / 8),
            LearningRate = options.LearningRate, Schedule = ScheduleKind.Cosine, WarmupSteps = Math.Max(1, options.Steps / 10),
        };
        using var trainer = new Trainer(llama.Model, weights, data, trainerOptions);
        var trainClock = Stopwatch.StartNew();
        var result = trainer.Train(cancellationToken, progress ?? new TrainingProgress(output, live: false));
        trainClock.Stop();
        string lossCurve = Path.Combine(options.OutputDirectory, LossCurve.FileName);
        LossCurve.Write(lossCurve, trainer.State, "demo fine-tune loss");
        string adapterDir = Path.Combine(options.OutputDirectory, "adapter");
        IO.AtomicFolder.Write(adapterDir, adapter.Save);
        output.WriteLine($"   saved the PEFT adapter to {adapterDir}");
        output.WriteLine();

        adapter.Eval();
        var withAdapter = options.Questions.Select(q => Ask(llama, tok, gen, q, options.MaxNewTokens)).ToArray();
        string? mergedDir = null;
        string[]? merged = null;
        if (options.Merge)
        {
            mergedDir = Path.Combine(options.OutputDirectory, "merged");
            output.WriteLine($"5. Merging the adapter into the dense weights: W' = W + (alpha/r)·B·A → {mergedDir}");
            LoraMerge.WriteMergedCheckpoint(modelDir, adapterDir, mergedDir, device: device);
            using var mergedModel = LlamaRuntime.Load(mergedDir, device);
            merged = options.Questions.Select(q => Ask(mergedModel, mergedModel.Tokenizer!, gen, q, options.MaxNewTokens)).ToArray();
            output.WriteLine();
        }
        var answers = options.Questions.Select((q, i) => new DemoAnswer(q, expected[i].Answer, before[i], withAdapter[i], merged?[i])).ToArray();
        output.WriteLine($"{(options.Merge ? 6 : 5)}. The same questions after fine-tuning ({(options.Merge ? "merged model" : "adapter over the NF4 base")}):");
        foreach (var a in answers)
        {
            output.WriteLine($"   Q: {a.Question}");
            output.WriteLine($"      before:   {OneLine(a.Before)}");
            output.WriteLine($"      after:    {OneLine(a.After)}{(a.Matches(a.After) ? "  ✓" : "")}");
            output.WriteLine($"      expected: {a.Expected}");
            if (a.Merged is not null && a.Merged != a.WithAdapter) output.WriteLine($"      (adapter over NF4 said: {OneLine(a.WithAdapter)})");
        }
        output.WriteLine();
        return new DemoResult(answers, result.EvalLossBefore ?? double.NaN, result.EvalLossAfter ?? double.NaN, result.FirstLoss, result.LastLoss,
            result.Steps, result.TokensPerSecond, gen.TokensPerSecond, Math.Max(result.PeakResidentBytes, Process.GetCurrentProcess().PeakWorkingSet64),
            adapter.TrainableParameters, adapter.AllParameters, adapterDir, mergedDir, lossCurve, total.Elapsed, trainClock.Elapsed);
    }

    /// <summary>The summary block printed at the end of the demo.</summary>
    public static string Summary(DemoResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("summary");
        sb.AppendLine(string.Create(ci, $"  held-out loss      {r.HeldOutLossBefore:0.000} → {r.HeldOutLossAfter:0.000} (instructions never trained on)"));
        sb.AppendLine(string.Create(ci, $"  training loss      {r.FirstTrainLoss:0.000} (first step) → {r.LastTrainLoss:0.000} (step {r.Steps})"));
        sb.AppendLine($"  exact answers      {r.ExactBefore}/{r.Answers.Count} before → {r.ExactAfter}/{r.Answers.Count} after");
        sb.AppendLine(string.Create(ci, $"  training           {r.TrainTokensPerSecond:0} tokens/s, {r.TrainingTime.TotalSeconds:0.0} s; {r.TrainableParameters:N0} LoRA parameters over {r.ModelParameters:N0}"));
        sb.AppendLine(string.Create(ci, $"  generation         {r.GenerationTokensPerSecond:0} tokens/s (KV cache, prompt time included)"));
        sb.AppendLine($"  peak memory        {TrainingProgress.Bytes(r.PeakResidentBytes)} resident");
        sb.AppendLine($"  adapter (PEFT)     {r.AdapterDirectory}");
        if (r.MergedDirectory is not null) sb.AppendLine($"  merged model       {r.MergedDirectory}");
        sb.AppendLine($"  loss curve         {r.LossCurve}");
        sb.AppendLine(string.Create(ci, $"  wall time          {r.Elapsed.TotalSeconds:0.0} s"));
        return sb.ToString();
    }

    // The answer of the instruction set to each question, with its 1-based line (SftDataset's Source).
    private static (string Answer, int Line)[] ReadAnswers(string path, IReadOnlyList<string> questions)
    {
        var byQuestion = new Dictionary<string, (string, int)>(StringComparer.Ordinal);
        int line = 0;
        foreach (string text in File.ReadLines(path, Encoding.UTF8))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var record = SftRecord.Parse(text, SftFormat.Alpaca);
            var user = record.Messages!.First(m => m.Role == "user").Content;
            var answer = record.Messages!.Last(m => m.Role == "assistant").Content;
            byQuestion.TryAdd(user, (answer, line));
        }
        return questions.Select(q => byQuestion.TryGetValue(q, out var a) ? a
            : throw new InvalidDataException($"The question '{q}' is not an instruction of '{path}'.")).ToArray();
    }

    // One greedy answer in the chat format, stopped at <|eot_id|>.
    private static string Ask(LlamaRuntime llama, Llama3Tokenizer tok, GenerationClock gen, string question, int maxNewTokens) =>
        gen.Run(llama, tok.ChatTemplate.Encode([ChatTurn.User(question)], addGenerationPrompt: true),
            SamplingOptions.Greedy with { MaxNewTokens = maxNewTokens }).Trim();

    private static string OneLine(string text) => text.Replace('\n', ' ').Replace('\r', ' ');

    // Generation that adds up generated tokens and wall time.
    private sealed class GenerationClock
    {
        private long _tokens;
        private double _seconds;

        public double TokensPerSecond => _tokens / Math.Max(_seconds, 1e-9);

        public string Run(LlamaRuntime llama, int[] prompt, SamplingOptions sampling)
        {
            var sw = Stopwatch.StartNew();
            var sb = new StringBuilder();
            foreach (var t in llama.Generate(prompt, sampling))
            {
                sb.Append(t.Text);
                _tokens++;
            }
            _seconds += sw.Elapsed.TotalSeconds;
            return sb.ToString();
        }
    }
}
