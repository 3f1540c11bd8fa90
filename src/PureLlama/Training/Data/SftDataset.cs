using System.Text;
using PureLlama.Tokenization;

namespace PureLlama.Training.Data;

/// <summary>Options of <see cref="SftDataset"/>'s Load methods.</summary>
public sealed class SftDatasetOptions
{
    /// <summary>Longest example in tokens; longer ones keep their first MaxSeqLength tokens and are counted as truncated.</summary>
    public int MaxSeqLength { get; init; } = 2048;
    /// <summary>Train on every token (prompts and headers too) instead of only on assistant content and its <c>&lt;|eot_id|&gt;</c>.</summary>
    public bool TrainOnInputs { get; init; }
    /// <summary>Skip and count invalid lines instead of throwing at the first one.</summary>
    public bool SkipInvalidLines { get; init; }
    /// <summary>The record shape; <see cref="SftFormat.Auto"/> recognises each line by its fields.</summary>
    public SftFormat Format { get; init; } = SftFormat.Auto;
}

/// <summary>What loading found.</summary>
/// <param name="Lines">Non-blank lines read.</param>
/// <param name="Examples">Examples kept.</param>
/// <param name="Tokens">Tokens over the kept examples (after truncation).</param>
/// <param name="TargetTokens">Labels that are not −100 over the kept examples.</param>
/// <param name="Skipped">Invalid lines skipped (only with <see cref="SftDatasetOptions.SkipInvalidLines"/>).</param>
/// <param name="Truncated">Examples cut to MaxSeqLength.</param>
/// <param name="NoTargets">Examples dropped because nothing was left to train on after truncation.</param>
/// <param name="Problems">The first few problems, "file:line: what".</param>
public sealed record SftDatasetSummary(int Lines, int Examples, long Tokens, long TargetTokens, int Skipped, int Truncated, int NoTargets, IReadOnlyList<string> Problems)
{
    /// <summary>One line for logs.</summary>
    public override string ToString() =>
        $"{Examples} examples, {Tokens} tokens ({TargetTokens} trained), {Skipped} invalid lines skipped, {Truncated} truncated, {NoTargets} dropped with nothing to train on";
}

/// <summary>
/// Supervised fine-tuning data from a JSONL file (one record a line, blank lines ignored; shapes in
/// <see cref="SftFormat"/>), tokenized with the Llama 3 chat template (<see cref="ChatTemplate"/>, no
/// generation prompt; special-token text inside content stays plain text). Labels follow
/// <see cref="TrainingExample"/>'s convention (shifted by the dataset): the model learns the tokens of
/// each assistant message's trimmed content and its closing <c>&lt;|eot_id|&gt;</c>, nothing else unless
/// <see cref="SftDatasetOptions.TrainOnInputs"/>. Text records are <c>BOS + text + EOS</c>, every token learned.
/// </summary>
public sealed class SftDataset
{
    private const int MaxProblems = 20;

    private SftDataset(IReadOnlyList<TrainingExample> examples, SftDatasetSummary summary)
    {
        Examples = examples;
        Summary = summary;
    }

    /// <summary>The examples in file order; <see cref="TrainingExample.Source"/> is the 1-based line.</summary>
    public IReadOnlyList<TrainingExample> Examples { get; }
    /// <summary>Counts of examples, tokens, skipped and truncated lines.</summary>
    public SftDatasetSummary Summary { get; }

    /// <summary>Reads and tokenizes a JSONL file.</summary>
    /// <exception cref="InvalidDataException">A line is invalid (message "file:line: what"; unless skipping), or the file holds no usable example.</exception>
    public static SftDataset Load(string path, Llama3Tokenizer tokenizer, SftDatasetOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file not found: {path}", path);
        return LoadLines(IO.StrictJson.ReadLines(path), path, tokenizer, options);
    }

    /// <summary>Tokenizes JSONL lines; <paramref name="sourceName"/> names them in messages.</summary>
    public static SftDataset Load(IEnumerable<string> lines, string sourceName, Llama3Tokenizer tokenizer, SftDatasetOptions? options = null)
        => LoadLines(lines, sourceName, tokenizer, options);

    // A null line is one that is not valid UTF-8 (StrictJson.ReadLines): an invalid record like any other.
    private static SftDataset LoadLines(IEnumerable<string?> lines, string sourceName, Llama3Tokenizer tokenizer, SftDatasetOptions? options)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options ??= new SftDatasetOptions();
        if (options.MaxSeqLength < 2) throw new ArgumentOutOfRangeException(nameof(options.MaxSeqLength), options.MaxSeqLength, "MaxSeqLength must be at least 2.");
        var examples = new List<TrainingExample>();
        var problems = new List<string>();
        int lineNo = 0, read = 0, skipped = 0, truncated = 0, noTargets = 0;
        long tokens = 0, targets = 0;
        foreach (string? line in lines)
        {
            lineNo++;
            if (line is not null && string.IsNullOrWhiteSpace(line)) continue;
            read++;
            SftRecord record;
            try { record = line is null ? throw new FormatException("not valid UTF-8 text") : SftRecord.Parse(line, options.Format); }
            catch (FormatException e)
            {
                string problem = $"{sourceName}:{lineNo}: {e.Message}";
                if (!options.SkipInvalidLines) throw new InvalidDataException(problem + " (set SkipInvalidLines to skip such lines)");
                skipped++;
                if (problems.Count < MaxProblems) problems.Add(problem);
                continue;
            }
            var (ids, trained) = Tokenize(record, tokenizer, options.TrainOnInputs, sourceName, lineNo);
            if (ids.Length > options.MaxSeqLength)
            {
                truncated++;
                ids = ids[..options.MaxSeqLength];
                trained = trained[..options.MaxSeqLength];
            }
            var example = new TrainingExample(ids, TrainingExample.ShiftedLabels(ids, trained), lineNo);
            if (example.TargetCount == 0)
            {
                noTargets++;
                if (problems.Count < MaxProblems) problems.Add($"{sourceName}:{lineNo}: nothing left to train on after truncation to {options.MaxSeqLength} tokens (dropped)");
                continue;
            }
            examples.Add(example);
            tokens += example.Length;
            targets += example.TargetCount;
        }
        if (examples.Count == 0)
            throw new InvalidDataException($"{sourceName}: no usable example ({read} records, {skipped} invalid, {noTargets} with nothing to train on)");
        return new SftDataset(examples.AsReadOnly(), new SftDatasetSummary(read, examples.Count, tokens, targets, skipped, truncated, noTargets, problems.AsReadOnly()));
    }

    /// <summary>Splits the examples into disjoint train and eval lists (<see cref="SeededOrder.Split{T}"/>).</summary>
    /// <param name="evalFractionOrCount">A fraction in [0, 1) of the examples, or a count ≥ 1.</param>
    /// <param name="seed">Chooses which examples are held out.</param>
    public (IReadOnlyList<TrainingExample> Train, IReadOnlyList<TrainingExample> Eval) Split(double evalFractionOrCount, ulong seed)
    {
        var (train, eval) = SeededOrder.Split(Examples, SeededOrder.EvalCount(evalFractionOrCount, Examples.Count), seed);
        return (train.AsReadOnly(), eval.AsReadOnly());
    }

    // Token ids [n] and per-token "learn this token" flags [n] (before the shift).
    private static (int[] Ids, bool[] Trained) Tokenize(SftRecord record, Llama3Tokenizer tok, bool trainOnInputs, string source, int line)
    {
        if (record.Messages is { } messages)
        {
            int[] ids = tok.ChatTemplate.Encode(messages, addGenerationPrompt: false, parseSpecialInContent: false, out int[] owner);
            var trained = new bool[ids.Length];
            for (int t = 0; t < ids.Length; t++)
                trained[t] = trainOnInputs || (owner[t] >= 0 && messages[owner[t]].Role == "assistant");
            return (ids, trained);
        }
        var text = new List<int>();
        text.Add(tok.BosId ?? throw new InvalidDataException($"{source}:{line}: the tokenizer {tok.Source} has no BOS token for a text record"));
        tok.Encode(record.Text!, text, parseSpecial: false);
        text.Add(tok.EosId ?? throw new InvalidDataException($"{source}:{line}: the tokenizer {tok.Source} has no EOS token for a text record"));
        var all = new bool[text.Count];
        Array.Fill(all, true);
        return (text.ToArray(), all);
    }
}
