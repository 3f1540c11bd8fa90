using BenchmarkDotNet.Running;
using PureLlama.Benchmarks;

if (args.Length > 0 && args[0] == "quant-figures")
{
    if (args.Contains("--group-fit")) QuantFigures.GroupFitErrors();
    else QuantFigures.Run(big: args.Contains("--big"));
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
