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
    private readonly NodeScript _script;

    private LlamaCppRunner(NodeScript script) => _script = script;

    public static LlamaCppRunner Find(ITestOutputHelper output)
    {
        try { return new LlamaCppRunner(NodeScript.Find("llamacpp", "greedy.mjs", "node-llama-cpp", "llama.cpp")); }
        catch (SkipTestException e)
        {
            output.WriteLine($"skipped: {e.Message}.");
            throw;
        }
    }

    /// <summary>llama.cpp's greedy continuation (at most <paramref name="steps"/> tokens; it stops before an end-of-generation token).</summary>
    public int[] Greedy(string model, int[] promptIds, int steps, string? lora = null)
    {
        var args = new List<string> { model, JsonSerializer.Serialize(promptIds), steps.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (lora is not null) args.Add(lora);
        string stdout = _script.Run(args, TimeSpan.FromMinutes(5));
        using var doc = JsonDocument.Parse(stdout);
        return GgufFixtures.Ints(doc.RootElement.GetProperty("generated_ids"));
    }
}
