using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PureLlama.Tokenization;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama tokenize</c>: prints the Llama 3 token ids of a text (like llama.cpp's
/// <c>llama-tokenize</c>), as comma-separated ids ready for <c>--prompt-ids</c>, or as JSON.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "model folder holding tokenizer.json (and tokenizer_config.json), or a .gguf file" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "path of a tokenizer.json file" };
        var text = new Option<string?>("--text") { Description = "the text to tokenize" };
        var file = new Option<string?>("--file") { Description = "a UTF-8 file to tokenize" };
        var json = new Option<bool>("--json") { Description = "print {\"ids\":[...],\"tokens\":[...]} (tokens in vocabulary form, e.g. \"Ġworld\")" };
        var noSpecial = new Option<bool>("--no-special") { Description = "treat special-token text such as <|eot_id|> as plain text" };
        var addBos = new Option<bool>("--add-bos") { Description = "prepend the BOS token" };
        var stats = new Option<bool>("--stats") { Description = "print load time, token count and encode speed on stderr" };
        var command = new Command("tokenize", "Print the token ids of a text with the model's Llama 3 tokenizer.")
        {
            model, tokenizer, text, file, json, noSpecial, addBos, stats,
        };
        command.SetAction(parse => Run(
            parse.GetValue(model), parse.GetValue(tokenizer), parse.GetValue(text), parse.GetValue(file),
            parse.GetValue(json), parse.GetValue(noSpecial), parse.GetValue(addBos), parse.GetValue(stats)));
        return command;
    }

    private static int Run(string? model, string? tokenizerFile, string? text, string? file, bool json, bool noSpecial, bool addBos, bool stats)
    {
        if ((model is null) == (tokenizerFile is null)) return Fail("give exactly one of --model DIR or --tokenizer FILE");
        if ((text is null) == (file is null)) return Fail("give exactly one of --text T or --file F");
        try
        {
            var clock = Stopwatch.StartNew();
            var tok = model is not null && File.Exists(model) && IO.Gguf.GgufFile.IsGguf(model)
                ? Llama.GgufTokenizer.Read(IO.Gguf.GgufHeaderReader.Read(model)) ?? throw new InvalidDataException($"GGUF file '{model}' has no tokenizer (tokenizer.ggml.model).")
                : Llama3Tokenizer.Load(model ?? tokenizerFile!);
            double loadMs = clock.Elapsed.TotalMilliseconds;
            if (file is not null && !File.Exists(file)) return Fail($"--file '{file}' does not exist");
            string input = text ?? File.ReadAllText(file!, Encoding.UTF8);
            clock.Restart();
            int[] ids = tok.Encode(input, addBos, parseSpecial: !noSpecial);
            double encodeS = clock.Elapsed.TotalSeconds;
            if (json) WriteJson(tok, ids);
            else Console.Out.WriteLine(string.Join(",", ids));
            if (stats)
            {
                double mb = Encoding.UTF8.GetByteCount(input) / 1e6;
                Console.Error.WriteLine($"loaded {tok.Source} in {loadMs:F0} ms; {ids.Length} tokens from {mb:F3} MB in {encodeS * 1000:F1} ms ({mb / Math.Max(encodeS, 1e-9):F1} MB/s)");
            }
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or InvalidOperationException)
        {
            return Fail(e.Message);
        }
    }

    private static void WriteJson(Llama3Tokenizer tok, int[] ids)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("ids");
            foreach (int id in ids) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("tokens");
            foreach (int id in ids) w.WriteStringValue(tok.IdToToken(id));
            w.WriteEndArray();
            w.WriteEndObject();
        }
        stdout.WriteByte((byte)'\n');
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 2;
    }
}
