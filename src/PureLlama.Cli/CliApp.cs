using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using PureLlama.Cli.Commands;

namespace PureLlama.Cli;

/// <summary>
/// The <c>purellama</c> entry point: builds the command tree and runs one command line. Every error a user
/// can cause ends as one line on stderr (<see cref="CliErrors"/>) and exit code 2 (3: training diverged);
/// help and version print as usual.
/// </summary>
internal static class CliApp
{
    /// <summary>The command tree with the conventions of <see cref="CliConventions"/> applied.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("purellama: a Llama 3 compute engine in managed C# (SIMD CPU and ILGPU CUDA).");
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ChatCommand.Create());
        root.Subcommands.Add(LogitsCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SelftestCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(BenchDecodeCommand.Create());
        root.Subcommands.Add(BenchBlocksCommand.Create());
        root.Subcommands.Add(VersusReportCommand.Create());
        root.Subcommands.Add(BenchServeCommand.Create());
        root.Subcommands.Add(PtxCommand.Create());
        root.Subcommands.Add(FinetuneCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        root.Subcommands.Add(TrainTokenizerCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(ExportGgufCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(FuzzCommand.Create());
        CliConventions.Apply(root);
        if (root.Options.OfType<HelpOption>().FirstOrDefault() is { Action: HelpAction help } helpOption) helpOption.Action = new NamedHelpAction(help);
        return root;
    }

    /// <summary>
    /// The help, with the usage lines naming the command <c>purellama</c> (the tool's command name) instead of the
    /// executable's file name (PureLlama.Cli under <c>dotnet run</c>).
    /// </summary>
    private sealed class NamedHelpAction(HelpAction inner) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var config = parseResult.InvocationConfiguration;
            var output = config.Output;
            var text = new StringWriter();
            config.Output = text;
            try { inner.Invoke(parseResult); }
            finally { config.Output = output; }
            string executable = RootCommand.ExecutableName;
            output.Write(text.ToString().Replace($"  {executable} ", "  purellama ", StringComparison.Ordinal)
                .Replace($"  {executable}{Environment.NewLine}", $"  purellama{Environment.NewLine}", StringComparison.Ordinal));
            return 0;
        }
    }

    /// <summary>Runs one command line; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var parse = CreateRoot().Parse(args.Length == 0 ? ["--help"] : args);
        if (parse.Action is ParseErrorAction)
        {
            Console.Error.WriteLine($"error: {CliErrors.Describe(parse)}");
            return 2;
        }
        try
        {
            CliConventions.ApplyThreads(parse);
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (OperationCanceledException)
        {
            Console.Out.Flush();
            Console.Error.WriteLine("error: cancelled.");
            return 130;
        }
        catch (Exception e)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"error: {CliErrors.Line(e)}");
            return CliErrors.IsUserError(e) ? 2 : 70;
        }
    }
}
