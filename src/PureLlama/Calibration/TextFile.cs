using System.Text.Json;

namespace PureLlama.Calibration;

/// <summary>
/// Reads evaluation or calibration text: a plain text file as is, or a JSONL file (extension .jsonl or
/// .json-lines, or any file whose first non-blank line is a JSON object) whose lines are objects with a
/// string <c>text</c> field, joined by blank lines ("\n\n", as wikitext perplexity runs join documents).
/// </summary>
public static class TextFile
{
    /// <summary>The documents of <paramref name="path"/>: one for plain text, one per JSONL line.</summary>
    /// <exception cref="InvalidDataException">A JSONL line is not an object with a string "text" (names the file and line).</exception>
    public static IReadOnlyList<string> ReadDocuments(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Text file '{path}' does not exist.", path);
        string all = IO.StrictJson.ReadText(path);
        var lines = all.Split('\n');
        string? first = lines.FirstOrDefault(l => l.Trim().Length > 0);
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json-lines", StringComparison.OrdinalIgnoreCase)
                     || (first is not null && first.TrimStart().StartsWith('{'));
        if (!jsonl) return [all];
        var docs = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0) continue;
            try
            {
                using var doc = IO.StrictJson.Parse(lines[i], $"{path} line {i + 1}");
                if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"'{path}' line {i + 1}: expected a JSON object with a string \"text\" field.");
                docs.Add(t.GetString()!);
            }
            catch (JsonException e) { throw new InvalidDataException($"'{path}' line {i + 1} is not valid JSON: {IO.StrictJson.Problem(e, withLine: false)}", e); }
        }
        if (docs.Count == 0) throw new InvalidDataException($"'{path}' holds no JSONL record with a \"text\" field.");
        return docs;
    }

    /// <summary>All documents of <paramref name="path"/> as one text (JSONL records joined by "\n\n").</summary>
    public static string ReadAll(string path) => string.Join("\n\n", ReadDocuments(path));
}
