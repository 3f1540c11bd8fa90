using System.CommandLine;
using System.Diagnostics;
using System.Text;
using PureLlama.Tokenization;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama train-tokenizer</c>: trains a byte-level BPE vocabulary on a UTF-8 text file with the
/// Llama 3 pre-tokenizer and writes <c>tokenizer.json</c> and <c>tokenizer_config.json</c> to a folder.
/// </summary>
internal static class TrainTokenizerCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "UTF-8 text file to train on", Required = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = "total vocabulary size, special tokens included", DefaultValueFactory = _ => 8192 };
        var output = new Option<string>("--output", "--out") { Description = "folder to write tokenizer.json and tokenizer_config.json to", Required = true };
        var specials = new Option<int>("--special-tokens") { Description = "number of special tokens (≥ 10, Llama 3 layout)", DefaultValueFactory = _ => 16 };
        var minFrequency = new Option<int>("--min-frequency") { Description = "stop when the best pair occurs fewer times", DefaultValueFactory = _ => 2 };
        var command = new Command("train-tokenizer", "Train a Llama 3-style byte-level BPE tokenizer on a text file.")
        {
            data, vocabSize, output, specials, minFrequency,
        };
        command.SetAction(parse => Run(parse.GetValue(data)!, parse.GetValue(vocabSize), parse.GetValue(output)!,
            parse.GetValue(specials), parse.GetValue(minFrequency)));
        return command;
    }

    private static int Run(string data, int vocabSize, string output, int specials, int minFrequency)
    {
        try
        {
            if (!File.Exists(data)) throw new ArgumentException($"--data '{data}' does not exist.");
            if (minFrequency < 1) throw new ArgumentException($"--min-frequency must be at least 1, not {minFrequency}.");
            var clock = Stopwatch.StartNew();
            string text = File.ReadAllText(data, Encoding.UTF8);
            if (string.IsNullOrWhiteSpace(text)) throw new ArgumentException($"--data '{data}' is empty: there is nothing to train on.");
            var options = new BpeTrainerOptions { VocabSize = vocabSize, SpecialTokenCount = specials, MinFrequency = minFrequency };
            var vocab = BpeTrainer.Train([text], options);
            double trainS = clock.Elapsed.TotalSeconds;
            BpeTokenizerWriter.Save(vocab, output);
            var tok = Llama3Tokenizer.Load(output); // check that the files load
            int tokens = tok.CountTokens(text, parseSpecial: false);
            double mb = Encoding.UTF8.GetByteCount(text) / 1e6;
            Console.Out.WriteLine($"trained on {data}: {mb:F2} MB, {vocab.PreTokens} pre-tokens, {vocab.UniqueWords} distinct");
            Console.Out.WriteLine($"vocabulary {vocab.VocabSize} ({vocab.Tokens.Count} regular incl. 256 bytes, {vocab.Merges.Count} merges, {vocab.SpecialTokens.Count} special) in {trainS:F1} s");
            if (vocab.VocabSize < vocabSize) Console.Out.WriteLine($"note: stopped below --vocab-size {vocabSize}: no pair occurs {minFrequency}+ times");
            Console.Out.WriteLine($"the file encodes to {tokens} tokens ({Encoding.UTF8.GetByteCount(text) / (double)Math.Max(tokens, 1):F2} bytes/token); wrote {Path.GetFullPath(output)}");
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {CliErrors.Line(e)}");
            return 2;
        }
    }
}
