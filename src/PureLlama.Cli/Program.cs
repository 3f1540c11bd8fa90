using System.CommandLine;
using PureLlama.Cli.Commands;

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
var parse = root.Parse(args);
if (parse.Errors.Count == 0)
{
    try { CliConventions.ApplyThreads(parse); }
    catch (ArgumentException e) { Console.Error.WriteLine($"error: {e.Message}"); return 2; }
}
return parse.Invoke();
