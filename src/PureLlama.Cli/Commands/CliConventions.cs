using System.CommandLine;
using PureLlama.Kernels.Simd;

namespace PureLlama.Cli.Commands;

/// <summary>
/// Conventions every command follows, applied once to the whole tree: <c>--threads</c> (<c>-t</c>) on every command
/// (CPU kernel threads), the short aliases <c>-m</c> (--model), <c>-p</c> (--prompt), <c>-n</c> (--max-new-tokens),
/// <c>-o</c> (--output), and one spelling for output folders and files: <c>--output</c>, with <c>--out</c> kept as an alias.
/// </summary>
internal static class CliConventions
{
    private static readonly (string Name, string Alias)[] s_shortAliases = [("--model", "-m"), ("--prompt", "-p"), ("--max-new-tokens", "-n"), ("--output", "-o")];

    /// <summary>Adds the options and aliases to <paramref name="root"/> and every command below it.</summary>
    public static void Apply(Command root)
    {
        foreach (var command in root.Subcommands) ApplyTo(command);
    }

    private static void ApplyTo(Command command)
    {
        foreach (var option in command.Options)
        {
            if (option.Name == "--out") { AddAlias(command, option, "--output"); AddAlias(command, option, "-o"); }
            if (option.Name == "--output") AddAlias(command, option, "--out");
            foreach (var (name, alias) in s_shortAliases)
                if (option.Name == name) AddAlias(command, option, alias);
        }
        if (command.Options.FirstOrDefault(o => o.Name == "--threads") is { } own) AddAlias(command, own, "-t");
        else command.Options.Add(new Option<int?>("--threads", "-t") { Description = "threads for the CPU kernels (default: every core, or $PURELLAMA_THREADS)" });
        foreach (var sub in command.Subcommands) ApplyTo(sub);
    }

    // An alias no other option of the command already uses.
    private static void AddAlias(Command command, Option option, string alias)
    {
        if (option.Aliases.Contains(alias) || command.Options.Any(o => o.Name == alias || o.Aliases.Contains(alias))) return;
        option.Aliases.Add(alias);
    }

    /// <summary>Applies <c>--threads</c> of the invoked command (a command with its own use of the value reads it itself).</summary>
    /// <exception cref="ArgumentException">Fewer than one thread.</exception>
    public static void ApplyThreads(ParseResult parse)
    {
        if (parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--threads") is Option<int?> threads
            && parse.GetValue(threads) is int n)
        {
            if (n < 1) throw new ArgumentException($"--threads must be at least 1, not {n}.");
            SimdThreading.MaxThreads = n;
        }
    }
}
