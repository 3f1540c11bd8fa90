using System.CommandLine;
using PureLlama.IO;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama logits</c>: the logits of every prompt position as a .npy [T, vocab] file, for parity checks against PyTorch.</summary>
internal static class LogitsCommand
{
    public static Command Create()
    {
        var model = new ModelCliOptions();
        var promptIds = new Option<string>("--prompt-ids") { Description = "comma-separated token ids (used as given)", Required = true };
        var outPath = new Option<string>("--output", "--out") { Description = "output .npy file: float32 [T, vocab]", Required = true };
        var command = new Command("logits", "Write the logits of every position of a prompt to a NumPy .npy file [T, vocab].");
        model.AddTo(command);
        command.Options.Add(promptIds); command.Options.Add(outPath);
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            int[] ids = GenerateCommand.ParseIds(parse.GetValue(promptIds)!);
            using var llama = model.Load(parse);
            var logits = llama.Logits(ids);
            string path = parse.GetValue(outPath)!;
            NpyWriter.Write(path, logits, [ids.Length, llama.Config.VocabSize]);
            Console.WriteLine($"wrote {path}: float32 [{ids.Length}, {llama.Config.VocabSize}]");
            return 0;
        }));
        return command;
    }
}
