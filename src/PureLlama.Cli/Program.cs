using System.CommandLine;
using PureLlama.Cli.Commands;

var root = new RootCommand("purellama: a Llama 3 compute engine in managed C# (SIMD CPU and ILGPU CUDA).");
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(ChatCommand.Create());
root.Subcommands.Add(LogitsCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(QuantizeCommand.Create());
root.Subcommands.Add(SelftestCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(BenchDecodeCommand.Create());
root.Subcommands.Add(PtxCommand.Create());
root.Subcommands.Add(FinetuneCommand.Create());
root.Subcommands.Add(PretrainCommand.Create());
root.Subcommands.Add(TrainTokenizerCommand.Create());
root.Subcommands.Add(MergeCommand.Create());
return root.Parse(args).Invoke();
