using System.Diagnostics;
using System.Globalization;
using System.Text;
using PureLlama.Cli.Charts;
using PureLlama.Cli.Display;
using PureLlama.Compute;
using PureLlama.IO;
using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tokenization;
using PureLlama.Training;
using PureLlama.Training.Data;

namespace PureLlama.Cli.Demo;

/// <summary>
/// The first run (<c>purellama demo</c>): fine-tuning for structured extraction. Loads the small demo model (F32 master
/// weights), scores it on a held-out split (a short court record in free form → <c>{"party":…,"place":…,"subject":…,"amount":…}</c>:
/// valid-JSON rate, exact match, field F1), fine-tunes every weight on the training split (with the live progress
/// display), saves the result as a Hugging Face model folder, loads that folder back and scores it, shows three
/// held-out records before and after, and draws the loss curve and the scores. Deterministic for a given
/// <see cref="DemoOptions.Seed"/> on a given machine.
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
    /// <param name="options">Model, splits, output folder, steps, seed, device.</param>
    /// <param name="output">Where the narration goes.</param>
    /// <param name="progress">The training display (null: one plain line per step on <paramref name="output"/>).</param>
    /// <param name="cancellationToken">Stops the fine-tune after its current step (a checkpoint is written first).</param>
    /// <exception cref="FileNotFoundException">The model folder or a split is missing.</exception>
    /// <exception cref="InvalidDataException">An expected answer of a split is not a JSON object.</exception>
    public static DemoResult Run(DemoOptions options, TextWriter output, TrainingProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var total = Stopwatch.StartNew();
        string modelDir = options.ModelDirectory;
        if (!File.Exists(Path.Combine(modelDir, "config.json"))) throw new FileNotFoundException($"'{modelDir}' is not a model folder (no config.json).");
        string trainPath = options.TrainPath ?? Path.Combine(modelDir, DemoOptions.TrainFileName);
        string heldOutPath = options.HeldOutPath ?? Path.Combine(modelDir, DemoOptions.HeldOutFileName);
        var heldOut = ReadRecords(heldOutPath, options.HeldOutCount, "held-out");
        var overlap = SplitOverlap.Of(ReadRecords(trainPath, 0, "training").Select(r => r.Expected), [.. heldOut.Select(r => r.Expected)]);
        var device = options.Device ?? Backends.DefaultDevice();
        Directory.CreateDirectory(options.OutputDirectory);
        var gen = new GenerationClock();

        output.WriteLine($"1. Loading {Path.GetFullPath(modelDir)} on {device} (F32 master weights, for a full fine-tune)");
        using var llama = LoadF32(modelDir, device);
        var tok = llama.Tokenizer ?? throw new FileNotFoundException($"'{modelDir}' has no tokenizer.json.");
        var c = llama.Config;
        output.WriteLine($"   Llama 3 architecture: vocab {c.VocabSize}, hidden {c.HiddenSize}, {c.NumHiddenLayers} layers, {c.NumAttentionHeads} heads / {c.NumKeyValueHeads} KV heads, MLP {c.IntermediateSize}; weights {TrainingProgress.Bytes(llama.Model.WeightBytes)} in memory");
        output.WriteLine("   It was pretrained on the King James Bible only: it writes verses, never JSON.");
        output.WriteLine();

        var train = SftDataset.Load(trainPath, tok, new SftDatasetOptions { MaxSeqLength = options.RowTokens }).Examples;
        var heldOutRows = SftDataset.Load(heldOutPath, tok, new SftDatasetOptions { MaxSeqLength = options.RowTokens }).Examples.Take(heldOut.Count).ToList();
        output.WriteLine("2. The task: structured extraction. A short court record written in free form becomes a JSON object, e.g.");
        output.WriteLine("   \"Judgment at Hebron: 50 shekels to Boaz for a field.\" → {\"party\":\"Boaz\",\"place\":\"Hebron\",\"subject\":\"a field\",\"amount\":50}.");
        output.WriteLine($"   Training split: {train.Count} records ({Path.GetFileName(trainPath)}). Held-out split: {heldOut.Count} records");
        output.WriteLine($"   ({Path.GetFileName(heldOutPath)}), never trained on, scored by greedy decoding (valid JSON, exact match, field F1):");
        output.WriteLine($"   {overlap.Describe()}.");
        output.WriteLine();
        output.WriteLine("3. The pretrained model on the held-out split:");
        var before = Answer(llama, tok, gen, heldOut, options.MaxNewTokens);
        var scoreBefore = Score(heldOut, before);
        output.WriteLine($"   {Describe(scoreBefore)}");
        output.WriteLine();

        var weights = new FullWeights(llama.Model, FullWeights.CompanionFilesIn(modelDir));
        output.WriteLine($"4. Fine-tuning every weight on the training split: {options.Steps} steps, AdamW, peak learning rate {options.LearningRate.ToString(CultureInfo.InvariantCulture)}, cosine");
        output.WriteLine($"   {weights.Summary}");
        var data = TrainingData.From(train, heldOutRows, new BatcherOptions { MaxSeqLength = options.RowTokens, Pack = true, Seed = options.Seed });
        string runDir = Path.Combine(options.OutputDirectory, "finetune");
        var trainerOptions = new TrainerOptions
        {
            OutputDirectory = runDir, MaxSteps = options.Steps, MaxGradNorm = 1f, EvalSteps = Math.Max(1, options.Steps / 6),
            LearningRate = options.LearningRate, Schedule = ScheduleKind.Cosine, WarmupSteps = Math.Max(1, options.Steps / 20),
            Overwrite = true, // a fresh run each time (deterministic output)
        };
        using var trainer = new Trainer(llama.Model, weights, data, trainerOptions);
        var display = progress ?? new TrainingProgress(output, live: false);
        var trainClock = Stopwatch.StartNew();
        var result = trainer.Train(cancellationToken, display);
        trainClock.Stop();
        display.Finish();
        string tunedDir = Path.Combine(options.OutputDirectory, "model");
        IO.AtomicFolder.Write(tunedDir, weights.Save);
        output.WriteLine($"   saved the fine-tuned model (Hugging Face folder) to {tunedDir}");
        output.WriteLine();

        using var tuned = LlamaRuntime.Load(tunedDir, device);
        var after = Answer(tuned, tuned.Tokenizer!, gen, heldOut, options.MaxNewTokens);
        var scoreAfter = Score(heldOut, after);
        output.WriteLine($"5. The fine-tuned model, loaded back from {tunedDir}, on the held-out split:");
        output.WriteLine($"   {Describe(scoreAfter)}");
        output.WriteLine();
        int shown = Math.Min(options.ShownExamples, heldOut.Count);
        var examples = Enumerable.Range(0, shown).Select(i => new DemoExample(i + 1, heldOut[i].Prompt, heldOut[i].Expected, before[i], after[i])).ToArray();
        output.WriteLine($"6. Held-out records #1–#{shown} (never trained on) before and after; ▶ marks where the prompt ends and the model's answer begins:");
        foreach (var e in examples)
        {
            output.WriteLine($"   #{e.Index} {OneLine(e.Prompt)} ▶");
            output.WriteLine($"      before:   {OneLine(e.Before)}");
            output.WriteLine($"      after:    {OneLine(e.After)}  {(Score([heldOut[e.Index - 1]], [e.After]).Exact == 1 ? "✓ exact" : "✗")}");
            output.WriteLine($"      expected: {e.Expected}");
        }
        output.WriteLine();

        string lossCurve = Path.Combine(options.OutputDirectory, LossCurve.FileName);
        LossCurve.Write(lossCurve, trainer.State, string.Create(CultureInfo.InvariantCulture,
            $"demo fine-tune loss ({result.Steps} steps): held-out field f1 {scoreBefore.FieldF1:0.00} -> {scoreAfter.FieldF1:0.00}"));
        string scoresChart = Path.Combine(options.OutputDirectory, "heldout_scores.png");
        BarChart.WritePng(scoresChart, $"held-out extraction, {heldOut.Count} records never trained on",
            ["valid json", "exact match", "field f1"],
            [
                new BarSeries("before", new Rgb(190, 190, 190), [scoreBefore.ValidJsonRate, scoreBefore.ExactMatch, scoreBefore.FieldF1]),
                new BarSeries("after", new Rgb(31, 119, 180), [scoreAfter.ValidJsonRate, scoreAfter.ExactMatch, scoreAfter.FieldF1]),
            ]);
        return new DemoResult(scoreBefore, scoreAfter, examples, train.Count, result.EvalLossBefore ?? double.NaN, result.EvalLossAfter ?? double.NaN,
            result.FirstLoss, result.LastLoss, result.Steps, result.TokensPerSecond, gen.TokensPerSecond,
            Math.Max(result.PeakResidentBytes, Process.GetCurrentProcess().PeakWorkingSet64), weights.Parameters.Sum(p => p.Value.Numel),
            tunedDir, lossCurve, scoresChart, total.Elapsed, trainClock.Elapsed);
    }

    // The model folder with every weight widened to F32 (trainable master weights), its tokenizer and generation config.
    private static LlamaRuntime LoadF32(string modelDir, Device device)
    {
        using var checkpoint = HfCheckpoint.Open(modelDir);
        var config = LlamaConfig.FromFile(checkpoint.ConfigPath);
        var tokenizer = checkpoint.TokenizerPath is { } path ? Llama3Tokenizer.Load(path) : null;
        return LlamaRuntime.FromModel(Commands.FinetuneCommand.LoadF32(checkpoint, config, device), tokenizer, GenerationConfig.FromCheckpoint(checkpoint));
    }

    /// <summary>The summary block printed at the end of the demo.</summary>
    public static string Summary(DemoResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var (b, a) = (r.Before, r.After);
        sb.AppendLine($"summary (held-out split: {b.Count} records never trained on; scores before → after)");
        sb.AppendLine(string.Create(ci, $"  valid JSON         {b.ValidJsonRate:0%} → {a.ValidJsonRate:0%}"));
        sb.AppendLine(string.Create(ci, $"  exact match        {b.ExactMatch:0%} → {a.ExactMatch:0%} ({b.Exact}/{b.Count} → {a.Exact}/{a.Count})"));
        sb.AppendLine(string.Create(ci, $"  field F1           {b.FieldF1:0.00} → {a.FieldF1:0.00}"));
        sb.AppendLine(string.Create(ci, $"  held-out loss      {r.HeldOutLossBefore:0.000} → {r.HeldOutLossAfter:0.000}"));
        sb.AppendLine(string.Create(ci, $"  training loss      {r.FirstTrainLoss:0.000} (first step) → {r.LastTrainLoss:0.000} (step {r.Steps}); {r.TrainCount} training records"));
        sb.AppendLine(string.Create(ci, $"  training           {r.TrainTokensPerSecond:0} tokens/s, {r.TrainingTime.TotalSeconds:0.0} s; {r.TrainableParameters:N0} parameters (every weight)"));
        sb.AppendLine(string.Create(ci, $"  generation         {r.GenerationTokensPerSecond:0} tokens/s (KV cache, prompt time included)"));
        sb.AppendLine($"  peak memory        {TrainingProgress.Bytes(r.PeakResidentBytes)} resident");
        sb.AppendLine($"  fine-tuned model   {r.ModelDirectory}");
        sb.AppendLine($"  pictures           {r.LossCurve}, {r.ScoresChart}");
        sb.AppendLine(string.Create(ci, $"  wall time          {r.Elapsed.TotalSeconds:0.0} s"));
        return sb.ToString();
    }

    private static string Describe(ExtractionScore s) => string.Create(CultureInfo.InvariantCulture,
        $"valid JSON {s.ValidJsonRate:0%}, exact match {s.ExactMatch:0%}, field F1 {s.FieldF1:0.00}");

    // The user turn and expected JSON of each record of an Alpaca split (the first `count`; 0: all); `split` names it in errors.
    private static List<(string Prompt, string Expected)> ReadRecords(string path, int count, string split)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"The {split} split '{path}' is missing.", path);
        var records = new List<(string, string)>();
        int line = 0;
        foreach (string text in File.ReadLines(path, Encoding.UTF8))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var record = SftRecord.Parse(text, SftFormat.Alpaca);
            string expected = record.Messages!.Last(m => m.Role == "assistant").Content;
            if (ExtractionScore.Fields(expected) is null) throw new InvalidDataException($"'{path}' line {line}: the output '{expected}' is not a JSON object.");
            records.Add((record.Messages!.First(m => m.Role == "user").Content, expected));
            if (count > 0 && records.Count == count) break;
        }
        if (records.Count == 0) throw new InvalidDataException($"'{path}' holds no record.");
        return records;
    }

    private static ExtractionScore Score(IReadOnlyList<(string Prompt, string Expected)> records, IReadOnlyList<string> answers) =>
        ExtractionScore.Of(answers, [.. records.Select(r => r.Expected)]);

    private static string[] Answer(LlamaRuntime llama, Llama3Tokenizer tok, GenerationClock gen, IReadOnlyList<(string Prompt, string Expected)> records, int maxNewTokens) =>
        [.. records.Select(r => Ask(llama, tok, gen, r.Prompt, maxNewTokens))];

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
