using PureLlama.Tests.Shared;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO;

/// <summary>
/// The one fixture finder: <c>shared/fixtures</c>, found by walking up from the test binaries (the repo is X/main with
/// X/shared beside it). A missing fixture skips the test, naming the missing path (never a silent pass); with
/// <c>CI=true</c> (set by <c>.ci/run</c>) it fails the test instead.
/// </summary>
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

    /// <summary>True under CI (<c>CI=true</c>), where a missing fixture is a failure.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The full path of a fixture file or folder (<paramref name="relative"/> to shared/fixtures). Missing: the test is
    /// skipped (<see cref="SkipTestException"/>) naming the path, or fails under CI.
    /// </summary>
    public static string Get(string relative, ITestOutputHelper? output = null) => Require(relative, Root, InCi);

    /// <summary><see cref="Get"/> with the fixtures folder and the CI flag given (to test the rule itself).</summary>
    internal static string Require(string relative, string? root, bool ci)
    {
        string? path = root is null ? null : Path.Combine(root, relative);
        if (path is not null && (File.Exists(path) || Directory.Exists(path))) return path;
        string missing = path ?? Path.Combine("..", "shared", "fixtures", relative);
        string message = root is null
            ? $"fixture missing: {missing} (no shared/fixtures folder above {AppContext.BaseDirectory})"
            : $"fixture missing: {missing}";
        if (ci) throw new Xunit.Sdk.XunitException(message + "; CI=true requires every fixture.");
        throw new SkipTestException(message);
    }
}
