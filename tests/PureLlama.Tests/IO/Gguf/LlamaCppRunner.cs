using System.Diagnostics;
using System.Text.Json;
using PureLlama.Tests.Shared;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>
/// Runs llama.cpp itself — node-llama-cpp 3.21.1's prebuilt CPU build, installed into tests/llamacpp by .ci/run
/// (<c>npm ci --omit=optional --ignore-scripts</c>) — through tests/llamacpp/greedy.mjs. When node or the package is
/// missing, <see cref="Find"/> skips the test (<see cref="SkipTestException"/>) outside CI and fails it under CI=true.
/// </summary>
internal sealed class LlamaCppRunner
{
    private readonly string _script;

    private LlamaCppRunner(string script) => _script = script;

    public static LlamaCppRunner Find(ITestOutputHelper output)
    {
        string? script = null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null && script is null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "llamacpp", "greedy.mjs");
            if (File.Exists(candidate)) script = candidate;
        }
        string? problem = script is null ? "tests/llamacpp/greedy.mjs was not found"
            : !Directory.Exists(Path.Combine(Path.GetDirectoryName(script)!, "node_modules", "node-llama-cpp"))
                ? "node-llama-cpp is not installed in tests/llamacpp (run: cd tests/llamacpp && npm ci --omit=optional --ignore-scripts)"
                : NodeProblem();
        if (problem is null) return new LlamaCppRunner(script!);
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new Xunit.Sdk.XunitException($"llama.cpp is needed under CI=true: {problem}.");
        output.WriteLine($"skipped: {problem}.");
        throw new SkipTestException($"llama.cpp is not available: {problem}");
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

    /// <summary>llama.cpp's greedy continuation (at most <paramref name="steps"/> tokens; it stops before an end-of-generation token).</summary>
    public int[] Greedy(string model, int[] promptIds, int steps, string? lora = null)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(_script);
        psi.ArgumentList.Add(model);
        psi.ArgumentList.Add(JsonSerializer.Serialize(promptIds));
        psi.ArgumentList.Add(steps.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (lora is not null) psi.ArgumentList.Add(lora);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(300_000)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"llama.cpp on {model} took more than 5 minutes."); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"llama.cpp on {model} failed (exit {p.ExitCode}): {stderr.Result}");
        using var doc = JsonDocument.Parse(stdout);
        return GgufFixtures.Ints(doc.RootElement.GetProperty("generated_ids"));
    }
}
