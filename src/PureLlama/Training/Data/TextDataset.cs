using System.Text;
using PureLlama.Tokenization;

namespace PureLlama.Training.Data;

/// <summary>How <see cref="TextDataset"/> cuts a text file into documents.</summary>
public enum DocumentSplit
{
    /// <summary>Each paragraph is a document; paragraphs are separated by one or more blank (white-space only) lines.</summary>
    BlankLines,
    /// <summary>The whole file is one document.</summary>
    WholeFile,
}

/// <summary>Options of <see cref="TextDataset.Load"/>.</summary>
public sealed class TextDatasetOptions
{
    /// <summary>T, tokens per training row.</summary>
    public int SequenceLength { get; init; } = 512;
    /// <summary>How the file is cut into documents.</summary>
    public DocumentSplit Documents { get; init; } = DocumentSplit.BlankLines;
    /// <summary>Put BOS (<c>&lt;|begin_of_text|&gt;</c>) before each document, as inference prompts start with it.</summary>
    public bool AddBos { get; init; } = true;
    /// <summary>Held-out rows: a fraction in [0, 1) or a count ≥ 1.</summary>
    public double EvalFractionOrCount { get; init; }
    /// <summary>Chooses the held-out rows.</summary>
    public ulong Seed { get; init; }
}

/// <summary>What <see cref="TextDataset.Load"/> produced.</summary>
/// <param name="Documents">Non-empty documents.</param>
/// <param name="Tokens">Tokens in the stream (with BOS/EOS).</param>
/// <param name="TrainRows">Rows in the training split.</param>
/// <param name="EvalRows">Rows held out.</param>
/// <param name="DroppedTailTokens">Tokens at the end of the stream too few for a full row.</param>
public sealed record TextDatasetSummary(int Documents, long Tokens, int TrainRows, int EvalRows, int DroppedTailTokens)
{
    /// <summary>One line for logs.</summary>
    public override string ToString() =>
        $"{Documents} documents, {Tokens} tokens → {TrainRows} train rows + {EvalRows} eval rows ({DroppedTailTokens} tail tokens dropped)";
}

/// <summary>
/// Pretraining data from a UTF-8 text file: the documents (see <see cref="DocumentSplit"/>) become one
/// token stream <c>[BOS] doc₀ EOS [BOS] doc₁ EOS …</c> (EOS = <c>&lt;|end_of_text|&gt;</c>; special-token text in
/// the file stays plain text), cut into windows of T+1 tokens with stride T (every token after the first
/// is a target exactly once). Row k: <c>Ids = stream[kT .. kT+T)</c>, <c>Labels = stream[kT+1 .. kT+T]</c>:
/// labels are shifted by the dataset (<see cref="TrainingExample"/>'s convention) and none is −100.
/// Attention crosses document boundaries inside a row (plain causal LM, as GPT-style pretraining).
/// Rows are held out for eval by a seeded choice; feed either list to a <see cref="SequenceBatcher"/>
/// with <c>MaxSeqLength = T</c>.
/// </summary>
public sealed class TextDataset
{
    private TextDataset(IReadOnlyList<TrainingExample> train, IReadOnlyList<TrainingExample> eval, TextDatasetSummary summary)
    {
        Train = train;
        Eval = eval;
        Summary = summary;
    }

    /// <summary>Training rows (ids [T], labels [T]); <see cref="TrainingExample.Source"/> is the row index in the stream.</summary>
    public IReadOnlyList<TrainingExample> Train { get; }
    /// <summary>Held-out rows, disjoint from <see cref="Train"/>.</summary>
    public IReadOnlyList<TrainingExample> Eval { get; }
    /// <summary>Counts.</summary>
    public TextDatasetSummary Summary { get; }

    /// <summary>Reads and tokenizes a text file.</summary>
    /// <exception cref="InvalidDataException">The file yields fewer than T+1 tokens, or the tokenizer lacks EOS/BOS.</exception>
    public static TextDataset Load(string path, Llama3Tokenizer tokenizer, TextDatasetOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"text file not found: {path}", path);
        return FromText(File.ReadAllText(path, Encoding.UTF8), path, tokenizer, options);
    }

    /// <summary>Tokenizes <paramref name="text"/>; <paramref name="sourceName"/> names it in messages.</summary>
    public static TextDataset FromText(string text, string sourceName, Llama3Tokenizer tokenizer, TextDatasetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options ??= new TextDatasetOptions();
        int T = options.SequenceLength;
        if (T < 1) throw new ArgumentOutOfRangeException(nameof(options.SequenceLength), T, "SequenceLength must be at least 1.");
        int eos = tokenizer.EosId ?? throw new InvalidDataException($"{sourceName}: the tokenizer {tokenizer.Source} has no EOS token to separate documents");
        int? bos = options.AddBos ? tokenizer.BosId ?? throw new InvalidDataException($"{sourceName}: the tokenizer {tokenizer.Source} has no BOS token (set AddBos = false)") : null;

        var stream = new List<int>(text.Length / 3 + 16);
        int documents = 0;
        foreach (string doc in SplitDocuments(text, options.Documents))
        {
            documents++;
            if (bos is int b) stream.Add(b);
            tokenizer.Encode(doc, stream, parseSpecial: false);
            stream.Add(eos);
        }
        int rows = stream.Count <= T ? 0 : (stream.Count - 1) / T;
        if (rows == 0)
            throw new InvalidDataException($"{sourceName}: {stream.Count} tokens in {documents} documents, fewer than one row of T+1 = {T + 1}");
        var all = new List<TrainingExample>(rows);
        for (int k = 0; k < rows; k++)
        {
            int[] ids = stream.GetRange(k * T, T).ToArray();
            int[] labels = stream.GetRange(k * T + 1, T).ToArray();
            all.Add(new TrainingExample(ids, labels, k));
        }
        int dropped = stream.Count - (rows * T + 1);
        var (train, eval) = SeededOrder.Split(all, SeededOrder.EvalCount(options.EvalFractionOrCount, rows), options.Seed);
        return new TextDataset(train.AsReadOnly(), eval.AsReadOnly(),
            new TextDatasetSummary(documents, stream.Count, train.Count, eval.Count, dropped));
    }

    /// <summary>The documents of <paramref name="text"/> (empty or white-space-only ones are left out; line ends become "\n").</summary>
    public static IEnumerable<string> SplitDocuments(string text, DocumentSplit split)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Replace("\r\n", "\n", StringComparison.Ordinal);
        if (split == DocumentSplit.WholeFile)
        {
            if (!string.IsNullOrWhiteSpace(text)) yield return text;
            yield break;
        }
        var paragraph = new StringBuilder();
        foreach (string line in text.Split('\n'))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                if (paragraph.Length > 0) yield return paragraph.ToString();
                paragraph.Clear();
                continue;
            }
            if (paragraph.Length > 0) paragraph.Append('\n');
            paragraph.Append(line);
        }
        if (paragraph.Length > 0) yield return paragraph.ToString();
    }
}
