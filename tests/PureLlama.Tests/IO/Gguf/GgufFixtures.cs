using System.Text.Json;
using PureLlama.IO;
using Xunit.Abstractions;

namespace PureLlama.Tests.IO.Gguf;

/// <summary>shared/fixtures/gguf: llama.cpp's files, layout.json, expected.json and logits.safetensors.</summary>
internal static class GgufFixtures
{
    /// <summary>Every GGUF stored in the folder.</summary>
    public static readonly string[] Stored =
        ["demo-f16.gguf", "demo-q8_0.gguf", "demo-q4_k_m.gguf", "random-f16.gguf", "random-q8_0.gguf", "random-q4_0.gguf", "random-q4_k_m.gguf", "random-q6_k.gguf"];

    public static TheoryData<string> StoredFiles() => [.. Stored];

    /// <summary>The fixture folder (a missing one skips the test, or fails it under CI).</summary>
    public static string Dir(ITestOutputHelper? output) => Fixtures.Get("gguf", output);

    public static JsonElement Layout(string dir, string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "layout.json")));
        return doc.RootElement.GetProperty(file).Clone();
    }

    public static JsonElement Expected(string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "expected.json")));
        return doc.RootElement.Clone();
    }

    /// <summary>llama.cpp's last-prompt-position logits for (file, prompt index, run).</summary>
    public static float[] Logits(string dir, string file, int prompt, string run)
    {
        using var st = SafeTensorsFile.Open(Path.Combine(dir, "logits.safetensors"));
        using var t = st.GetTensor($"{file}/prompt{prompt}/{run}");
        return t.ToFloatArray();
    }

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
