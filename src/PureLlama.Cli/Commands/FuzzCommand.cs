using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using PureLlama.Diagnostics;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama fuzz --parser NAME|all --inputs N --seed S</c>: a long fuzz campaign. Inputs run in child processes
/// (this command with <c>--child</c>), which report each input before and after it runs; a child that dies or is
/// killed for memory marks its current input a death, and a fresh child carries on after it. Inputs whose outcome is
/// not acceptance or a clear error are saved as reproducers.
/// </summary>
internal static class FuzzCommand
{
    public static Command Create()
    {
        var parser = new Option<string>("--parser") { Description = $"{string.Join(" | ", Fuzzer.Parsers)} | all", DefaultValueFactory = _ => "all" };
        var inputs = new Option<int>("--inputs") { Description = "inputs per parser (default 10000)", DefaultValueFactory = _ => 10000 };
        var seed = new Option<ulong>("--seed") { Description = "seed of the mutations (default 1)", DefaultValueFactory = _ => 1UL };
        var timeout = new Option<double>("--timeout") { Description = "seconds per input before it counts as a hang (default 10)", DefaultValueFactory = _ => 10.0 };
        var memory = new Option<int>("--max-memory-mb") { Description = "a child above this resident size is killed: a death (default 4096)", DefaultValueFactory = _ => 4096 };
        var corpus = new Option<string?>("--corpus") { Description = "seed corpus folder, written there when missing (default: a temporary folder)" };
        var reproducers = new Option<string>("--reproducers") { Description = "where inputs that were not accepted or clearly refused are saved", DefaultValueFactory = _ => "fuzz-reproducers" };
        var child = new Option<bool>("--child") { Hidden = true };
        var start = new Option<int>("--start") { Hidden = true };
        var cmd = new Command("fuzz", "Fuzz every file parser with structure-aware mutations; report accepted / clear / unclear / hang / death per parser.")
            { parser, inputs, seed, timeout, memory, corpus, reproducers, child, start };
        cmd.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            string name = parse.GetValue(parser)!;
            if (name != "all" && !Fuzzer.Parsers.Contains(name)) throw new ArgumentException($"--parser must be one of {string.Join(", ", Fuzzer.Parsers)} or all; got '{name}'.");
            if (parse.GetValue(inputs) < 1) throw new ArgumentException($"--inputs must be at least 1, not {parse.GetValue(inputs)}.");
            if (!(parse.GetValue(timeout) > 0)) throw new ArgumentException($"--timeout must be a positive number of seconds, not {parse.GetValue(timeout)}.");
            var limit = TimeSpan.FromSeconds(parse.GetValue(timeout));
            if (parse.GetValue(child))
                return Child(parse.GetValue(parser)!, parse.GetValue(corpus)!, parse.GetValue(seed), parse.GetValue(start), parse.GetValue(inputs), limit);
            string? dir = parse.GetValue(corpus);
            bool temporary = dir is null;
            dir ??= Path.Combine(Path.GetTempPath(), "purellama-fuzz-corpus-" + Guid.NewGuid().ToString("N")[..8]);
            if (!Directory.Exists(dir)) Fuzzer.CreateCorpus(dir); // a named folder that does not exist yet is written and kept
            try
            {
                var names = name == "all" ? Fuzzer.Parsers : [name];
                int failures = 0;
                Console.WriteLine($"| parser | inputs | accepted | clear errors | unclear | hangs | deaths | seconds |");
                Console.WriteLine($"|---|---:|---:|---:|---:|---:|---:|---:|");
                foreach (var p in names)
                    failures += Campaign(p, dir, parse.GetValue(seed), parse.GetValue(inputs), limit, parse.GetValue(memory), parse.GetValue(reproducers)!);
                return failures == 0 ? 0 : 1;
            }
            finally
            {
                if (temporary) Directory.Delete(dir, recursive: true);
            }
        }));
        return cmd;
    }

    // One parser: children run [next, inputs) until every input has an outcome.
    private static int Campaign(string parser, string corpus, ulong seed, int inputs, TimeSpan timeout, int maxMemoryMb, string reproducers)
    {
        var clock = Stopwatch.StartNew();
        var results = new List<FuzzResult>();
        int next = 0;
        while (next < inputs)
        {
            var (done, death) = RunChild(parser, corpus, seed, next, inputs - next, timeout, maxMemoryMb);
            results.AddRange(done);
            if (death is { } d) results.Add(d);
            next = results.Max(r => r.Index) + 1; // after a hang or a death, a fresh child goes on with the next input
        }
        var tally = Fuzzer.Tally(results);
        var bad = results.Where(r => r.Outcome is not (FuzzOutcome.Accepted or FuzzOutcome.ClearError)).ToList();
        if (bad.Count > 0) Directory.CreateDirectory(reproducers);
        foreach (var r in bad)
        {
            string file = Path.Combine(reproducers, $"{parser}-s{seed}-i{r.Index}-{r.Outcome}-{Path.GetFileName(r.File)}");
            File.WriteAllBytes(file, Fuzzer.Input(parser, corpus, seed, r.Index));
            Console.Error.WriteLine($"{parser} #{r.Index} ({r.File}): {r.Outcome}: {r.Error} → {file}");
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {parser} | {results.Count} | {tally[FuzzOutcome.Accepted]} | {tally[FuzzOutcome.ClearError]} | {tally[FuzzOutcome.Unclear]} | {tally[FuzzOutcome.Hang]} | {tally[FuzzOutcome.Death]} | {clock.Elapsed.TotalSeconds:0} |"));
        return bad.Count;
    }

    // Starts a child on [start, start + count); returns the outcomes it reported and, if it died mid-input, that input as a death.
    private static (List<FuzzResult> Done, FuzzResult? Death) RunChild(string parser, string corpus, ulong seed, int start, int count, TimeSpan timeout, int maxMemoryMb)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        foreach (var a in new[] { "fuzz", "--child", "--parser", parser, "--corpus", corpus, "--seed", seed.ToString(CultureInfo.InvariantCulture),
                     "--start", start.ToString(CultureInfo.InvariantCulture), "--inputs", count.ToString(CultureInfo.InvariantCulture),
                     "--timeout", timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        // Managed allocations past the limit then fail as OutOfMemoryException inside the child (an unclear outcome, not a dead machine).
        psi.Environment["DOTNET_GCHeapHardLimit"] = ((long)maxMemoryMb << 20).ToString("X", CultureInfo.InvariantCulture);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var done = new List<FuzzResult>();
        int current = -1;
        bool killedForMemory = false;
        using var watchdog = new Timer(_ =>
        {
            try
            {
                process.Refresh();
                if (!process.HasExited && process.WorkingSet64 > (long)maxMemoryMb << 20) { killedForMemory = true; process.Kill(entireProcessTree: true); }
            }
            catch (InvalidOperationException) { }
        }, null, 200, 200);
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            var parts = line.Split('\t');
            if (parts[0] == "start") current = int.Parse(parts[1], CultureInfo.InvariantCulture);
            else if (parts[0] == "result" && parts.Length >= 5)
            {
                done.Add(new FuzzResult(int.Parse(parts[1], CultureInfo.InvariantCulture), Enum.Parse<FuzzOutcome>(parts[2]), parts[4].Length == 0 ? null : parts[4], parts[3]));
                current = -1;
            }
        }
        process.WaitForExit();
        bool finished = done.Count == count || (done.Count > 0 && done[^1].Outcome == FuzzOutcome.Hang);
        if (current < 0 && finished) return (done, null);
        if (current < 0) current = done.Count == 0 ? start : done[^1].Index + 1; // died between inputs (or before the first)
        string why = killedForMemory ? $"killed above {maxMemoryMb} MB resident" : $"exit code {process.ExitCode}: {Tail(stderr.Result)}";
        return (done, new FuzzResult(current, FuzzOutcome.Death, why, Fuzzer.InputFile(parser, current)));
    }

    private static string Tail(string text) => text.Length <= 300 ? text.Trim() : text[^300..].Trim();

    // The child: one line per input before ("start") and after ("result"); a hang ends the child (its thread is stuck).
    private static int Child(string parser, string corpus, ulong seed, int start, int count, TimeSpan timeout)
    {
        var stdout = Console.Out;
        Fuzzer.Run(parser, corpus, seed, start, count, timeout,
            onResult: r =>
            {
                stdout.WriteLine($"result\t{r.Index}\t{r.Outcome}\t{r.File}\t{(r.Error ?? "").ReplaceLineEndings(" ").Replace('\t', ' ')}");
                stdout.Flush();
            },
            onStart: i =>
            {
                stdout.WriteLine($"start\t{i}");
                stdout.Flush();
            });
        stdout.Flush();
        Environment.Exit(0); // also ends a reader stuck on a hang
        return 0;
    }
}
