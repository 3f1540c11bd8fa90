using System.Text.Json;

namespace PureLlama.Cli.Demo;

/// <summary>
/// Scores generated JSON against the expected JSON object, field by field. An answer is valid JSON when it parses
/// as one JSON object (white space around it allowed); exact when it has the expected fields with equal values and
/// no other; field-level F1 is micro-averaged over the set: P = correct fields / predicted fields, R = correct
/// fields / expected fields, F1 = 2PR / (P + R). Values compare as JSON values (3 ≠ "3"; strings ordinal).
/// </summary>
internal sealed record ExtractionScore(int Count, int ValidJson, int Exact, int CorrectFields, int PredictedFields, int ExpectedFields)
{
    /// <summary>Share of answers that are a JSON object.</summary>
    public double ValidJsonRate => Count == 0 ? 0 : (double)ValidJson / Count;

    /// <summary>Share of answers equal to the expected object.</summary>
    public double ExactMatch => Count == 0 ? 0 : (double)Exact / Count;

    /// <summary>Micro-averaged field F1.</summary>
    public double FieldF1
    {
        get
        {
            double p = PredictedFields == 0 ? 0 : (double)CorrectFields / PredictedFields;
            double r = ExpectedFields == 0 ? 0 : (double)CorrectFields / ExpectedFields;
            return p + r == 0 ? 0 : 2 * p * r / (p + r);
        }
    }

    /// <summary>Scores <paramref name="answers"/> against <paramref name="expected"/> (pairwise).</summary>
    public static ExtractionScore Of(IReadOnlyList<string> answers, IReadOnlyList<string> expected)
    {
        ArgumentNullException.ThrowIfNull(answers);
        ArgumentNullException.ThrowIfNull(expected);
        if (answers.Count != expected.Count) throw new ArgumentException($"{answers.Count} answers for {expected.Count} expected objects.");
        int valid = 0, exact = 0, correct = 0, predicted = 0, gold = 0;
        for (int i = 0; i < answers.Count; i++)
        {
            var want = Fields(expected[i]) ?? throw new ArgumentException($"The expected answer '{expected[i]}' is not a JSON object.");
            gold += want.Count;
            if (Fields(answers[i]) is not { } got) continue;
            valid++;
            predicted += got.Count;
            int hits = got.Count(f => want.TryGetValue(f.Key, out var w) && JsonElement.DeepEquals(w, f.Value));
            correct += hits;
            if (hits == want.Count && got.Count == want.Count) exact++;
        }
        return new ExtractionScore(answers.Count, valid, exact, correct, predicted, gold);
    }

    /// <summary>The fields of a JSON object (the last of repeated names), or null when the text is not one.</summary>
    public static Dictionary<string, JsonElement>? Fields(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject()) fields[p.Name] = p.Value.Clone();
            return fields;
        }
        catch (JsonException) { return null; }
    }
}
