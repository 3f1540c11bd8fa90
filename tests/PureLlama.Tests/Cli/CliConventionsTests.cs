using System.CommandLine;
using PureLlama.Cli.Commands;
using PureLlama.Kernels.Simd;

namespace PureLlama.Tests.Cli;

/// <summary>The conventions every command follows: --threads/-t everywhere, -m -p -n -o, --output with --out as its alias.</summary>
public class CliConventionsTests
{
    private static RootCommand Root()
    {
        var root = new RootCommand("test");
        foreach (var c in new[] { GenerateCommand.Create(), QuantizeCommand.Create(), FinetuneCommand.Create(), BenchCommand.Create(), BenchDecodeCommand.Create(), ChatCommand.Create() })
            root.Subcommands.Add(c);
        CliConventions.Apply(root);
        return root;
    }

    [Fact]
    public void Every_command_takes_threads_and_the_short_aliases_parse()
    {
        var root = Root();
        foreach (var command in root.Subcommands)
            command.Options.Should().Contain(o => o.Name == "--threads" && o.Aliases.Contains("-t"), $"{command.Name} takes --threads / -t");
        var parse = root.Parse(["generate", "-m", "/models/x", "-p", "hi", "-n", "3", "-t", "2"]);
        parse.Errors.Should().BeEmpty();
        var generate = parse.CommandResult.Command;
        parse.GetValue<string>(generate.Options.Single(o => o.Name == "--model").Name).Should().Be("/models/x");
        parse.GetValue<string>("--prompt").Should().Be("hi");
        parse.GetValue<int?>("--max-new-tokens").Should().Be(3);
        parse.GetValue<int?>("--threads").Should().Be(2);
    }

    [Fact]
    public void Output_is_spelled_output_with_out_and_o_as_aliases()
    {
        var root = Root();
        var quantize = root.Subcommands.Single(c => c.Name == "quantize");
        var output = quantize.Options.Single(o => o.Name == "--output");
        output.Aliases.Should().Contain("--out").And.Contain("-o");
        foreach (var spelling in new[] { "--output", "--out", "-o" })
            root.Parse(["quantize", "-m", "/m", "--format", "nf4", spelling, "/o"]).GetValue<string>("--output").Should().Be("/o");
        root.Subcommands.Single(c => c.Name == "finetune").Options.Single(o => o.Name == "--output").Aliases.Should().Contain("--out").And.Contain("-o");
    }

    [Fact]
    public void Threads_are_applied_and_a_bad_count_is_named()
    {
        var root = Root();
        int before = SimdThreading.MaxThreads;
        try
        {
            CliConventions.ApplyThreads(root.Parse(["generate", "-m", "/m", "-p", "x", "--threads", "1"]));
            SimdThreading.MaxThreads.Should().Be(1);
            var act = () => CliConventions.ApplyThreads(root.Parse(["generate", "-m", "/m", "-p", "x", "-t", "0"]));
            act.Should().Throw<ArgumentException>().WithMessage("--threads must be at least 1, not 0.");
        }
        finally { SimdThreading.MaxThreads = before; }
    }

    [Fact]
    public void Bench_decode_is_listed_with_its_help()
    {
        var root = Root();
        root.Subcommands.Single(c => c.Name == "bench-decode").Hidden.Should().BeFalse();
        var output = new StringWriter();
        root.Parse(["bench-decode", "--help"]).Invoke(new InvocationConfiguration { Output = output }).Should().Be(0);
        output.ToString().Should().Contain("--threads").And.Contain("Prefill/decode speed");
    }
}

/// <summary>Error lines name the valid choices.</summary>
[Collection(ConsoleCaptureCollection.Name)]
public class CliErrorLineTests
{
    [Fact]
    public void Quantize_format_error_lists_all_five_formats()
    {
        var root = new RootCommand("test") { QuantizeCommand.Create() };
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            root.Parse(["quantize", "--model", "/no/such/model", "--format", "q4", "--output", "/tmp/x"]).Invoke().Should().Be(2);
        }
        finally { Console.SetError(saved); }
        error.ToString().Should().Contain("--format must be one of nf4, int8, gptq, awq, rtn; got 'q4'.");
    }
}
