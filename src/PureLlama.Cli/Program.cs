using System.CommandLine;

var root = new RootCommand("PureLlama: a Llama 3 compute engine in managed C#.");
root.Subcommands.Add(PureLlama.Cli.Commands.BenchCommand.Create());
return root.Parse(args).Invoke();
