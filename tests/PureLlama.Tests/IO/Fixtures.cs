using Xunit.Abstractions;

namespace PureLlama.Tests.IO;

/// <summary>Finds <c>shared/fixtures</c> by walking up from the test binaries (the repo is X/main with X/shared beside it).</summary>
internal static class Fixtures
{
    private static readonly Lazy<string?> s_root = new(FindRoot);

    /// <summary>The fixtures folder, or null when none is found.</summary>
    public static string? Root => s_root.Value;

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "fixtures");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>
    /// The full path of a fixture file or folder, or null (with a message) when it is missing outside
    /// CI; in CI (<c>CI=true</c>) a missing fixture fails the test.
    /// </summary>
    public static string? Get(string relative, ITestOutputHelper? output = null)
    {
        string? path = Root is null ? null : Path.Combine(Root, relative);
        if (path is not null && (File.Exists(path) || Directory.Exists(path))) return path;
        string message = $"Fixture 'shared/fixtures/{relative}' is missing (searched upward from {AppContext.BaseDirectory}).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new Xunit.Sdk.XunitException(message);
        output?.WriteLine(message + " Skipping.");
        Console.WriteLine(message + " Skipping.");
        return null;
    }
}
