using System.Globalization;
using System.Text.Json;

namespace PureLlama.Cli.Demo;

/// <summary>
/// How held out a held-out split is: for each field of the expected JSON objects, how many of the held-out split's
/// distinct values never occur in the training split, and how many held-out answers occur whole in training.
/// Values compare as JSON text (<c>5</c> ≠ <c>"5"</c>).
/// </summary>
/// <param name="Fields">Per field, in the order first met in the held-out split: distinct held-out values and those unseen in training.</param>
/// <param name="AnswersInTraining">Held-out records whose whole expected object is also a training answer.</param>
/// <param name="Count">Held-out records.</param>
internal sealed record SplitOverlap(IReadOnlyList<(string Field, int Distinct, int Unseen)> Fields, int AnswersInTraining, int Count)
{
    /// <summary>Compares the expected JSON objects of the two splits.</summary>
    /// <exception cref="ArgumentException">An expected answer is not a JSON object.</exception>
    public static SplitOverlap Of(IEnumerable<string> trainExpected, IReadOnlyList<string> heldOutExpected)
    {
        ArgumentNullException.ThrowIfNull(trainExpected);
        ArgumentNullException.ThrowIfNull(heldOutExpected);
        var trainValues = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var trainAnswers = new HashSet<string>(StringComparer.Ordinal);
        foreach (string answer in trainExpected)
        {
            var fields = Parse(answer);
            trainAnswers.Add(Canonical(fields));
            foreach (var (name, value) in fields) Values(trainValues, name).Add(value.GetRawText());
        }
        var heldValues = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var order = new List<string>();
        int inTraining = 0;
        foreach (string answer in heldOutExpected)
        {
            var fields = Parse(answer);
            if (trainAnswers.Contains(Canonical(fields))) inTraining++;
            foreach (var (name, value) in fields)
            {
                if (!heldValues.ContainsKey(name)) order.Add(name);
                Values(heldValues, name).Add(value.GetRawText());
            }
        }
        var perField = order.Select(name =>
        {
            var seen = trainValues.GetValueOrDefault(name) ?? [];
            return (name, heldValues[name].Count, heldValues[name].Count(v => !seen.Contains(v)));
        }).ToList();
        return new SplitOverlap(perField, inTraining, heldOutExpected.Count);
    }

    /// <summary>One line: "party 0 of 8, subject 6 of 6, amount 6 of 6 held-out values never occur in training; 0 of 50 held-out answers do".</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{string.Join(", ", Fields.Select(f => $"{f.Field} {f.Unseen} of {f.Distinct}"))} held-out values never occur in training; {AnswersInTraining} of {Count} held-out answers do");

    private static HashSet<string> Values(Dictionary<string, HashSet<string>> map, string field) =>
        map.TryGetValue(field, out var set) ? set : map[field] = new HashSet<string>(StringComparer.Ordinal);

    private static Dictionary<string, JsonElement> Parse(string answer) =>
        ExtractionScore.Fields(answer) ?? throw new ArgumentException($"The expected answer '{answer}' is not a JSON object.");

    private static string Canonical(Dictionary<string, JsonElement> fields) =>
        string.Join("\u0001", fields.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + "\u0002" + f.Value.GetRawText()));
}
