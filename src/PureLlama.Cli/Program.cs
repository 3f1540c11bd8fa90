using System.CommandLine;
using PureLlama.Cli.Commands;

var root = new RootCommand("PureLlama: a Llama 3 compute engine in managed C#.");
root.Subcommands.Add(BenchCommand.Create());
return root.Parse(args).Invoke();
