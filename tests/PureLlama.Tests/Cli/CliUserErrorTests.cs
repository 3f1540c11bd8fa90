using System.Text.RegularExpressions;
using PureLlama.Cli;
using PureLlama.Tests.Shared;
using Xunit.Abstractions;

namespace PureLlama.Tests.Cli;

/// <summary>Tests that swap Console.Out or Console.Error run in this collection, alone, so that none reads another's output.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCaptureCollection
{
    public const string Name = "Console capture";
}

/// <summary>
/// Bad command lines a user can type, run through the real entry point (<see cref="CliApp.Run"/>) in-process: each must
/// end with exit code 2 and exactly one line on stderr, "error: …", with no .NET type name, exception name, parameter
/// name, C# property name or stack frame in it. Bad paths, bad files (JSON, safetensors, GGUF, JSONL), bad flags and
/// bad values, for every command.
/// </summary>
[Collection(ConsoleCaptureCollection.Name)]
public sealed partial class CliUserErrorTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_bad_command_line_ends_in_one_clear_error_line()
    {
        string tmp = Directory.CreateTempSubdirectory("purellama-cli-errors-").FullName;
        try
        {
            var failures = new List<string>();
            foreach (var line in BadCommandLines(BadFiles(tmp), tmp))
            {
                string[] args = [.. line];
                var (code, stdout, stderr) = RunInProcess(args);
                string shown = string.Join(' ', args);
                var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                output.WriteLine($"[{code}] {shown}\n    {stderr.Trim()}");
                if (code != 2) failures.Add($"{shown}: exit code {code}, expected 2 (stderr: {stderr.Trim()})");
                else if (lines.Length != 1 || !lines[0].StartsWith("error: ", StringComparison.Ordinal)) failures.Add($"{shown}: stderr is not one 'error: …' line:\n{stderr}");
                else if (Leak().Match(Paths().Replace(stderr + stdout, "<path>")) is { Success: true } leak) failures.Add($"{shown}: shows '{leak.Value}': {stderr.Trim()}");
            }
            failures.Should().BeEmpty();
        }
        finally { Directory.Delete(tmp, recursive: true); }
    }

    [Fact]
    public void Help_and_no_arguments_print_the_help_and_succeed()
    {
        var (code, stdout, stderr) = RunInProcess([]);
        (code, stderr).Should().Be((0, ""));
        stdout.Should().Contain("Usage:\n  purellama [command] [options]".Replace("\n", Environment.NewLine, StringComparison.Ordinal)).And.Contain("Commands:");
        foreach (var command in CliApp.CreateRoot().Subcommands)
        {
            (code, stdout, stderr) = RunInProcess([command.Name, "--help"]);
            (code, stderr).Should().Be((0, ""), command.Name);
            stdout.Should().Contain($"purellama {command.Name} [options]", "every command, listed or not, prints its help under the tool's name")
                .And.Contain("--threads").And.Contain(command.Description!);
        }
    }

    [Fact]
    public void Exception_messages_lose_what_dotnet_appends_and_gain_the_flag()
    {
        CliErrors.Line(new ArgumentOutOfRangeException("options", 0, "MicroBatchSize must be at least 1."))
            .Should().Be("--batch-size must be at least 1, not 0.");
        CliErrors.Line(new AggregateException(new ArgumentException("The stride must be in [1, context = 8].", "stride")))
            .Should().Be("--stride must be in [1, context = 8].");
        CliErrors.Line(new System.Text.Json.JsonException("'x' is an invalid start of a value. Path: $ | LineNumber: 2 | BytePositionInLine: 5.", "$", 2, 5))
            .Should().Be("not valid JSON: 'x' is an invalid start of a value at line 3, byte 6");
        CliErrors.Line(new NullReferenceException("boom")).Should().Be("unexpected failure: boom (please report it with the command line)");
        CliErrors.IsUserError(new NullReferenceException()).Should().BeFalse();
    }

    // .NET type and exception names, parameter names, stack frames, and the stock messages of .NET's own exceptions.
    [GeneratedRegex(@"System\.|Exception|\bat [\w.`]+\(|   at |\(Parameter '|Nullable|Object reference not set|Specified argument|Input string was not|Actual value was|Index was outside|Sequence contains|given key|[Cc]annot parse argument|expected type|\b(?!PureLlama\b)[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+\b")]
    private static partial Regex Leak();

    // Absolute paths the command line named (a temp folder like /tmp/tmp.CnMhadUbIo would read as a CamelCase type name).
    [GeneratedRegex(@"/[^\s'""]+")]
    private static partial Regex Paths();

    private static (int Code, string Out, string Err) RunInProcess(string[] args)
    {
        var (savedOut, savedErr) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (CliApp.Run(args), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(savedOut); Console.SetError(savedErr); }
    }

    private sealed record Files(string Demo, string Missing, string Empty, string BadJsonModel, string BadFieldModel, string GarbageSafetensors,
        string TruncatedSafetensors, string NoTokenizer, string NotGguf, string BadJsonl, string WrongJsonl, string EmptyText, string Text, string Sft);

    private static Files BadFiles(string tmp)
    {
        string demo = RepoPaths.DemoModel;
        string Folder(string name, params (string File, string? CopyFrom, string? Text)[] files)
        {
            string dir = Directory.CreateDirectory(Path.Combine(tmp, name)).FullName;
            foreach (var (file, from, text) in files)
                if (from is not null) File.Copy(Path.Combine(demo, from), Path.Combine(dir, file));
                else File.WriteAllText(Path.Combine(dir, file), text);
            return dir;
        }
        string Write(string name, string text) { string p = Path.Combine(tmp, name); File.WriteAllText(p, text); return p; }
        var config = File.ReadAllText(Path.Combine(demo, "config.json"));
        string truncated = Folder("truncated", ("config.json", "config.json", null), ("tokenizer.json", "tokenizer.json", null));
        using (var src = File.OpenRead(Path.Combine(demo, "model.safetensors")))
        using (var dst = File.Create(Path.Combine(truncated, "model.safetensors")))
        {
            var head = new byte[5000];
            src.ReadExactly(head);
            dst.Write(head);
        }
        return new Files(
            Demo: demo,
            Missing: Path.Combine(tmp, "no-such-path"),
            Empty: Folder("empty"),
            BadJsonModel: Folder("bad-json", ("config.json", null, "{\"hidden_size\": 256,"), ("model.safetensors", "model.safetensors", null)),
            BadFieldModel: Folder("bad-field", ("config.json", null, config.Replace("\"hidden_size\": 256", "\"hidden_size\": \"wide\"", StringComparison.Ordinal)), ("model.safetensors", "model.safetensors", null)),
            GarbageSafetensors: Folder("garbage", ("config.json", "config.json", null), ("tokenizer.json", "tokenizer.json", null), ("model.safetensors", null, "garbage garbage garbage")),
            TruncatedSafetensors: truncated,
            NoTokenizer: Folder("no-tokenizer", ("config.json", "config.json", null), ("model.safetensors", "model.safetensors", null)),
            NotGguf: Write("model.gguf", "not a gguf file"),
            BadJsonl: Write("bad.jsonl", "{\"instruction\": \"x\", \"output\": \n"),
            WrongJsonl: Write("wrong.jsonl", "{\"foo\": 1}\n"),
            EmptyText: Write("empty.txt", ""),
            Text: Write("text.txt", "In the beginning God created the heaven and the earth.\n"),
            Sft: Write("sft.jsonl", "{\"instruction\": \"Say hi.\", \"output\": \"hi\"}\n{\"instruction\": \"Say no.\", \"output\": \"no\"}\n"));
    }

    private static IEnumerable<string[]> BadCommandLines(Files f, string tmp)
    {
        string o = Path.Combine(tmp, "out"), d = f.Demo;
        // Parsing: unknown commands and options, missing required ones, values of the wrong type.
        yield return ["bogus"];
        yield return ["generate", "--bogus"];
        yield return ["generate", "-p", "hi"];
        yield return ["generate", "-m", d, "-p", "hi", "-n", "abc"];
        yield return ["generate", "-m", d, "-p", "hi", "--temperature", "warm"];
        yield return ["generate", "-m", d, "-p", "hi", "--seed", "-1"];
        yield return ["serve", "-m", d, "--port", "http"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--lr", "fast"];
        yield return ["quantize", "-m", d, "--format", "nf4", "-o", o, "--force", "yes-please"];
        // Model paths and files.
        foreach (var model in new[] { f.Missing, f.Empty, f.BadJsonModel, f.BadFieldModel, f.GarbageSafetensors, f.TruncatedSafetensors, f.NotGguf, f.Text })
            yield return ["generate", "-m", model, "-p", "hi", "-n", "1"];
        yield return ["generate", "-m", f.NoTokenizer, "-p", "hi", "-n", "1"];
        yield return ["chat", "-m", f.Missing];
        yield return ["eval", "-m", f.GarbageSafetensors, "--data", f.Text];
        yield return ["convert", "-m", f.BadFieldModel, "-o", o];
        yield return ["export-gguf", "-m", f.TruncatedSafetensors, "-o", o + ".gguf"];
        yield return ["quantize", "-m", f.BadJsonModel, "--format", "int8", "-o", o];
        yield return ["bench-decode", "-m", f.Missing];
        // Values of the shared options.
        yield return ["generate", "-m", d, "-p", "hi", "-t", "0"];
        yield return ["generate", "-m", d, "-p", "hi", "--device", "tpu"];
        yield return ["generate", "-m", d, "-p", "hi", "--loading", "lazy"];
        yield return ["generate", "-m", d, "-p", "hi", "--kv-cache", "f8"];
        yield return ["generate", "-m", d, "-p", "hi", "--quantize", "q3"];
        yield return ["generate", "-m", d, "-p", "hi", "--quantize-lm-head"];
        yield return ["generate", "-m", d, "-p", "hi", "--lm-head-format", "q6_k"];
        yield return ["generate", "-m", d, "-p", "hi", "--quantize", "int8", "--lm-head-format", "q5_1"];
        yield return ["generate", "-m", d, "-p", "hi", "--context", "0"];
        yield return ["generate", "-m", d, "-p", "hi", "--context", "100000"];
        yield return ["generate", "-m", d, "-p", "hi", "--adapter", f.Empty];
        yield return ["generate", "-m", d, "-p", "hi", "--top-p", "2"];
        yield return ["generate", "-m", d, "-p", "hi", "--top-k", "-1"];
        yield return ["generate", "-m", d, "-n", "0", "-p", "hi"];
        yield return ["generate", "-m", d, "--prompt-ids", "1,x"];
        yield return ["generate", "-m", d, "--prompt-ids", "99999"];
        yield return ["generate", "-m", d, "-p", "hi", "--system", "terse"];
        yield return ["logits", "-m", d, "--prompt-ids", "1", "-o", Path.Combine(f.Missing, "x.npy")];
        yield return ["tokenize"];
        yield return ["tokenize", "-m", d, "--file", f.Missing];
        yield return ["tokenize", "--tokenizer", f.BadJsonl, "--text", "hi"];
        yield return ["eval", "-m", d, "--data", f.Missing];
        yield return ["eval", "-m", d, "--data", f.EmptyText];
        yield return ["eval", "-m", d, "--data", f.Text, "--stride", "0"];
        yield return ["eval", "-m", d, "--data", f.BadJsonl];
        // quantize
        yield return ["quantize", "-m", d, "--format", "q4", "-o", o];
        yield return ["quantize", "-m", d, "--format", "nf4", "-o", o, "--block-size", "0"];
        yield return ["quantize", "-m", d, "--format", "nf4", "-o", o, "--max-shard-size", "5XB"];
        yield return ["quantize", "-m", d, "--format", "nf4", "-o", d];
        yield return ["quantize", "-m", d, "--format", "nf4", "-o", f.Text];
        yield return ["quantize", "-m", d, "--format", "gptq", "-o", o, "--bits", "3"];
        yield return ["quantize", "-m", d, "--format", "gptq", "-o", o, "--group-size", "0"];
        yield return ["quantize", "-m", d, "--format", "gptq", "-o", o, "--damp", "-1"];
        yield return ["quantize", "-m", d, "--format", "gptq", "-o", o, "--samples", "0"];
        yield return ["quantize", "-m", d, "--format", "gptq", "-o", o, "--group-fit", "best"];
        yield return ["quantize", "-m", d, "--format", "gptq", "-o", o, "--calibration", f.Missing];
        yield return ["quantize", "-m", d, "--format", "awq", "-o", o, "--sym"];
        yield return ["quantize", "-m", d, "--format", "rtn", "-o", o, "--desc-act"];
        yield return ["quantize", "-m", d, "--format", "nf4", "-o", o, "--group-size", "64"];
        yield return ["quantize", "-m", d, "--format", "int8", "-o", o, "--block-size", "32"];
        yield return ["quantize", "-m", d, "--format", "gptq", "-o", o, "--no-double-quant"];
        // Training.
        yield return ["finetune", "-m", d, "--data", f.Missing, "-o", o];
        yield return ["finetune", "-m", d, "--data", f.BadJsonl, "-o", o];
        yield return ["finetune", "-m", d, "--data", f.WrongJsonl, "-o", o];
        yield return ["finetune", "-m", d, "--data", f.EmptyText, "-o", o];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--lora-r", "0"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--lora-dropout", "1.5"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--target-modules", "foo_proj"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--batch-size", "0"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--max-seq-length", "1"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--scheduler", "step"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--optimizer", "sgd"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--lr", "-1"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--eval-split", "5"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--save-steps", "-1"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--distributed", "nccl"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--full", "--quantize", "nf4"];
        yield return ["finetune", "-m", d, "--data", f.Sft, "-o", o, "--resume"];
        yield return ["pretrain", "--config", f.Missing, "--tokenizer", d, "--data", f.Text, "-o", o];
        yield return ["pretrain", "--config", Path.Combine(f.BadJsonModel, "config.json"), "--tokenizer", d, "--data", f.Text, "-o", o];
        yield return ["pretrain", "--config", Path.Combine(d, "config.json"), "--tokenizer", f.Empty, "--data", f.Text, "-o", o];
        yield return ["pretrain", "--config", Path.Combine(d, "config.json"), "--tokenizer", d, "--data", f.EmptyText, "-o", o];
        yield return ["train-tokenizer", "--data", f.Missing, "-o", o];
        yield return ["train-tokenizer", "--data", f.EmptyText, "-o", o];
        yield return ["train-tokenizer", "--data", f.Text, "-o", o, "--vocab-size", "5"];
        yield return ["train-tokenizer", "--data", f.Text, "-o", o, "--special-tokens", "3"];
        yield return ["merge", "-m", d, "--adapter", f.Missing, "-o", o];
        yield return ["merge", "-m", d, "--adapter", f.Empty, "-o", o, "--dtype", "f8"];
        yield return ["convert", "-m", d, "-o", o, "--dtype", "q4"];
        yield return ["export-gguf", "-m", d, "-o", o + ".gguf", "--type", "q5"];
        yield return ["export-gguf", "-m", d, "-o", Path.Combine(f.Missing, "x.gguf")];
        yield return ["demo", "--steps", "0", "-o", o];
        yield return ["demo", "--lr", "-1", "-o", o];
        yield return ["demo", "-m", f.Missing, "-o", o];
        // serve: every bad value is refused before it listens.
        yield return ["serve", "-m", d, "--port", "70000"];
        yield return ["serve", "-m", d, "--host", "not..a..host"];
        yield return ["serve", "-m", d, "--kv-memory", "12XB"];
        yield return ["serve", "-m", d, "--kv-cache", "f8"];
        yield return ["serve", "-m", d, "--block-size", "0"];
        yield return ["serve", "-m", d, "--max-running", "0"];
        yield return ["serve", "-m", d, "--max-tokens", "0"];
        yield return ["serve", "-m", d, "--lora", "no-equals-sign"];
        yield return ["serve", "-m", d, "--lora", "a=" + f.Empty];
        // Tools.
        yield return ["selftest", "--device", "tpu"];
        yield return ["selftest", "--filter", "no-kernel-is-called-this"];
        yield return ["bench", "--only", "nope"];
        yield return ["bench-decode", "--layers", "0"];
        yield return ["bench-decode", "--loading", "lazy"];
        yield return ["bench-decode", "--runs", "0"];
        yield return ["fuzz", "--parser", "nope"];
        yield return ["fuzz", "--parser", "config", "--inputs", "0"];
    }
}
