using System.Diagnostics;

namespace PureLlama.Tests.Shared;

/// <summary>
/// A Node.js script of the repository (tests/&lt;folder&gt;/&lt;script&gt;) that drives a real outside program — llama.cpp through
/// node-llama-cpp, OpenAI's Node SDK — with its npm package installed in that folder by <c>.ci/run</c> (<c>npm ci</c>).
/// When node or the package is missing, <see cref="Find"/> skips the test (<see cref="SkipTestException"/>) outside CI
/// and fails it under <c>CI=true</c>, naming what is missing and the command that installs it.
/// </summary>
internal sealed class NodeScript
{
    private readonly string _script;

    private NodeScript(string script) => _script = script;

    /// <summary>The script tests/<paramref name="folder"/>/<paramref name="script"/>, which needs npm package <paramref name="package"/>.</summary>
    public static NodeScript Find(string folder, string script, string package, string what)
    {
        string path = Path.Combine(RepoPaths.Root, "tests", folder, script);
        string? problem = !File.Exists(path) ? $"tests/{folder}/{script} was not found"
            : !Directory.Exists(Path.Combine(RepoPaths.Root, "tests", folder, "node_modules", package))
                ? $"{package} is not installed in tests/{folder} (run: cd tests/{folder} && npm ci --omit=optional --ignore-scripts)"
                : NodeProblem();
        if (problem is null) return new NodeScript(path);
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new Xunit.Sdk.XunitException($"{what} is needed under CI=true: {problem}.");
        throw new SkipTestException($"{what} is not available: {problem}");
    }

    private static string? NodeProblem()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, RedirectStandardError = true });
            if (p is null || !p.WaitForExit(30_000) || p.ExitCode != 0) return "node does not run";
            return null;
        }
        catch (System.ComponentModel.Win32Exception) { return "node is not installed"; }
    }

    /// <summary>Runs the script with <paramref name="args"/>; its standard output, or an exception with its standard error.</summary>
    public string Run(IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(_script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(_script)} took more than {timeout.TotalSeconds:0} s.");
        }
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{Path.GetFileName(_script)} failed (exit {p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
