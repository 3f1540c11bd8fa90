using System.CommandLine;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama chat</c>: an interactive chat (Llama 3 instruct template) with the history in the KV cache.</summary>
internal static class ChatCommand
{
    /// <summary>The chat commands.</summary>
    internal const string ChatHelp = "Commands: /help (this list), /reset (forget the conversation), /exit (quit).";

    public static Command Create()
    {
        var model = new ModelCliOptions();
        var sampling = new SamplingCliOptions();
        var system = new Option<string?>("--system") { Description = "system prompt" };
        var command = new Command("chat", "Chat with an instruct model: one line per turn on stdin; /exit ends, /reset forgets the history, /help lists the commands.");
        model.AddTo(command);
        command.Options.Add(system);
        sampling.AddTo(command);
        command.SetAction(parse => ModelCliOptions.Guard(() => Run(parse, model, sampling, parse.GetValue(system))));
        return command;
    }

    private static int Run(ParseResult parse, ModelCliOptions modelOptions, SamplingCliOptions samplingOptions, string? system)
    {
        using var llama = modelOptions.Load(parse);
        var options = samplingOptions.Resolve(parse, llama.DefaultSampling);
        using var chat = llama.StartChat(system);
        bool interactive = !Console.IsInputRedirected;
        Console.Error.WriteLine($"{llama.Config.DescribeShape()} on {llama.Model.Device}; context {llama.ContextLength}; {GenerateCommand.Describe(options)}. /help for the commands.");
        using var cts = new CancellationTokenSource();
        var turnCancel = (CancellationTokenSource?)null;
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; turnCancel?.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            while (true)
            {
                if (interactive) Console.Write("> ");
                string? line = Console.ReadLine();
                if (line is null || line.Trim() == "/exit") break;
                if (line.Trim().Length == 0) continue;
                if (line.Trim() == "/reset") { chat.Reset(); Console.Error.WriteLine("(history cleared)"); continue; }
                if (line.Trim() == "/help") { Console.Error.WriteLine(ChatHelp); continue; }
                if (line.TrimStart().StartsWith('/') && !line.TrimStart().StartsWith("//", StringComparison.Ordinal))
                {
                    // Not sent to the model: a mistyped command would otherwise become a message.
                    Console.Error.WriteLine($"unknown command '{line.Trim().Split(' ')[0]}'. {ChatHelp} (start a message with // to send a leading slash)");
                    continue;
                }
                if (line.TrimStart().StartsWith("//", StringComparison.Ordinal)) line = line.TrimStart()[1..];
                turnCancel = new CancellationTokenSource();
                try
                {
                    foreach (var t in chat.Send(line, options, turnCancel.Token))
                    {
                        Console.Write(t.Text);
                        Console.Out.Flush();
                    }
                }
                catch (Llama.ContextLengthExceededException e)
                {
                    Console.Error.WriteLine($"\nerror: {e.Message} (/reset starts over)");
                    continue;
                }
                finally { turnCancel.Dispose(); turnCancel = null; }
                Console.WriteLine();
                Console.Error.WriteLine($"[{chat.LastPrefillTokens} new prompt tokens, {chat.CachedTokens} in cache; {chat.LastStats}]");
            }
        }
        finally { Console.CancelKeyPress -= onCancel; }
        return 0;
    }
}
