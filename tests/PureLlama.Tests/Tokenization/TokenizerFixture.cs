using System.Text.Json;
using PureLlama.Tokenization;
using Xunit.Abstractions;

namespace PureLlama.Tests.Tokenization;

/// <summary>One case of ../shared/fixtures/llama3-tokenizer/cases.jsonl.</summary>
public sealed record TokenizerCase(int Line, string Category, string Text, int[] Ids, bool SpecialTokensParsed, int[]? Llama30Ids);

/// <summary>The tests that share one loaded Llama 3 tokenizer (the 9 MB file is read once).</summary>
[CollectionDefinition(Name)]
public sealed class TokenizerCollection : ICollectionFixture<TokenizerFixture>
{
    public const string Name = "Llama 3 tokenizer fixture";
}

/// <summary>
/// Finds ../shared/fixtures (walking up from the test binaries until a folder has a
/// shared/fixtures child) and loads the Llama 3 tokenizer once for the collection.
/// </summary>
public sealed class TokenizerFixture
{
    public const string Folder = "llama3-tokenizer";
    private readonly Lazy<Llama3Tokenizer?> _tokenizer;
    private readonly Lazy<IReadOnlyList<TokenizerCase>> _cases;

    public TokenizerFixture()
    {
        Dir = FindFixtureFolder(Folder);
        _tokenizer = new(() => Dir is null || !File.Exists(TokenizerJson) ? null : Llama3Tokenizer.Load(Dir));
        _cases = new(() => ReadCases(Path.Combine(Dir!, "cases.jsonl")));
    }

    /// <summary>The fixture folder, or null when it is not found.</summary>
    public string? Dir { get; }
    public string TokenizerJson => Path.Combine(Dir ?? "../shared/fixtures/" + Folder, "tokenizer.json");
    public Llama3Tokenizer? Tokenizer => _tokenizer.Value;
    public IReadOnlyList<TokenizerCase> Cases => _cases.Value;

    /// <summary>
    /// The tokenizer. A missing fixture file skips the test naming it (fails under CI=true), through the one
    /// fixture finder <see cref="IO.Fixtures"/>.
    /// </summary>
    public Llama3Tokenizer? RequireTokenizer(ITestOutputHelper output, string file = "tokenizer.json")
    {
        IO.Fixtures.Get(Path.Combine(Folder, file), output);
        return Tokenizer ?? throw new InvalidOperationException($"{TokenizerJson} exists but did not load.");
    }

    /// <summary>The fixture folder <paramref name="name"/> under shared/fixtures, or null when there is no shared/fixtures.</summary>
    public static string? FindFixtureFolder(string name) => IO.Fixtures.Root is { } root ? Path.Combine(root, name) : null;

    private static List<TokenizerCase> ReadCases(string path)
    {
        var cases = new List<TokenizerCase>();
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            using var doc = JsonDocument.Parse(text);
            var r = doc.RootElement;
            int[] Ints(string name) => r.GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray();
            string category = r.GetProperty("category").GetString()!;
            bool parsed = r.TryGetProperty("special_tokens_parsed", out var p) ? p.GetBoolean() : category.StartsWith("special", StringComparison.Ordinal);
            int[]? ids30 = r.TryGetProperty("llama3_0_tokenizer_json_ids", out _) ? Ints("llama3_0_tokenizer_json_ids") : null;
            cases.Add(new TokenizerCase(line, category, r.GetProperty("text").GetString()!, Ints("ids"), parsed, ids30));
        }
        return cases;
    }
}
