namespace PureLlama.Tests.Shared;

/// <summary>Folders of the repository the tests run from (found by walking up from the test binaries).</summary>
internal static class RepoPaths
{
    /// <summary>The repository root (the folder holding PureLlama.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>models/demo, the bundled demo model.</summary>
    public static string DemoModel => Path.Combine(Root, "models", "demo");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PureLlama.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No PureLlama.sln above {AppContext.BaseDirectory}.");
    }
}
