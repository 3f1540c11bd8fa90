using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using PureLlama.Tests.Shared;
using Xunit.Abstractions;

namespace PureLlama.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: <c>dotnet pack</c> of the solution, the nuspec metadata, the <c>purellama</c> command
/// (tool package PureLlama.Cli) installed into a temporary tool path and run, and the README's C# example compiled and run in a fresh console
/// project that references the packed library from a local feed. Slow (several builds), so it runs in CI
/// (<c>CI=true</c>) or with <c>PURELLAMA_PACKAGE_TESTS=1</c>, and is skipped in the default run.
/// </summary>
public class PackageTests(ITestOutputHelper output)
{
    private const string Version = "0.1.0";

    [Fact]
    public void Packed_tool_runs_and_the_README_example_runs_against_the_packed_library()
    {
        if (!IO.Fixtures.InCi && Environment.GetEnvironmentVariable("PURELLAMA_PACKAGE_TESTS") != "1")
            throw new SkipTestException("package test: packs, installs and builds (minutes); runs in CI (CI=true) or with PURELLAMA_PACKAGE_TESTS=1.");
        string work = Path.Combine(Path.GetTempPath(), "purellama-pack-" + Guid.NewGuid().ToString("N"));
        string feed = Path.Combine(work, "feed");
        try
        {
            Directory.CreateDirectory(work);
            Run("dotnet", ["pack", Path.Combine(RepoPaths.Root, "PureLlama.sln"), "-c", "Release", "-o", feed], RepoPaths.Root);
            foreach (var id in new[] { "PureLlama", "PureLlama.Kernels", "PureLlama.Cli" }) CheckMetadata(Path.Combine(feed, $"{id}.{Version}.nupkg"), id);

            string tools = Path.Combine(work, "tools");
            Run("dotnet", ["tool", "install", "PureLlama.Cli", "--version", Version, "--tool-path", tools, "--add-source", feed], work);
            string exe = Path.Combine(tools, OperatingSystem.IsWindows() ? "purellama.exe" : "purellama");
            Run(exe, ["--help"], work).Should().Contain("demo").And.Contain("finetune");
            Run(exe, ["tokenize", "--model", RepoPaths.DemoModel, "--text", "In the beginning"], work).Should().MatchRegex(@"\d");

            string app = Path.Combine(work, "app");
            Run("dotnet", ["new", "console", "-o", app, "--force"], work);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            Run("dotnet", ["add", app, "package", "PureLlama", "--version", Version], app);
            File.WriteAllText(Path.Combine(app, "Program.cs"), ReadmeExample(Path.Combine(work, "run")));
            string ran = Run("dotnet", ["run", "-c", "Release", "--project", app], app);
            ran.Should().MatchRegex(@"loss \d+\.\d\d -> \d+\.\d\d");
            Directory.Exists(Path.Combine(work, "run", "adapter")).Should().BeTrue();
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The ```csharp block of README.md's "From C#" section, with the demo path, output folder and step count adapted.</summary>
    internal static string ReadmeExample(string runDir)
    {
        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        int section = readme.IndexOf("## From C#", StringComparison.Ordinal);
        section.Should().BeGreaterThan(0, "README.md has a \"From C#\" section");
        var block = Regex.Match(readme[section..], "```csharp\n(.*?)```", RegexOptions.Singleline);
        block.Success.Should().BeTrue("the section holds a C# block");
        string code = block.Groups[1].Value;
        code.Should().Contain("\"models/demo").And.Contain("MaxSteps = 200").And.Contain("\"run");
        return code.Replace("\"models/demo", "\"" + RepoPaths.DemoModel.Replace("\\", "/", StringComparison.Ordinal), StringComparison.Ordinal)
            .Replace("MaxSteps = 200", "MaxSteps = 2", StringComparison.Ordinal)
            .Replace("\"run", "\"" + runDir.Replace("\\", "/", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    // The nuspec carries the metadata a package page shows; README.md and LICENSE are inside.
    private static void CheckMetadata(string nupkg, string id)
    {
        File.Exists(nupkg).Should().BeTrue($"{nupkg} was packed");
        using var zip = ZipFile.OpenRead(nupkg);
        zip.GetEntry("README.md").Should().NotBeNull($"{id} carries the README");
        zip.GetEntry("LICENSE").Should().NotBeNull($"{id} carries the licence text");
        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = nuspecEntry.Open();
        var meta = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Field(string name) => meta.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
        Field("id").Should().Be(id);
        Field("version").Should().Be(Version);
        Field("license").Should().Be("MIT");
        Field("readme").Should().Be("README.md");
        Field("authors").Should().Be("PureLlama contributors");
        Field("description").Length.Should().BeGreaterThan(40, $"{id} has a real description");
        Field("tags").Should().Contain("llama");
        meta.Elements().Any(e => e.Name.LocalName == "repository").Should().BeTrue($"{id} names its repository (type git)");
    }

    private string Run(string file, string[] args, string cwd)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} {string.Join(' ', args)} ran over 10 minutes."); }
        string text = stdout.Result + stderr.Result;
        output.WriteLine($"$ {file} {string.Join(' ', args)}\n{text}");
        p.ExitCode.Should().Be(0, $"{file} {string.Join(' ', args)} failed:\n{text}");
        return text;
    }
}
