using System.Text.Json;

namespace PureLlama.IO;

/// <summary>
/// Reads typed fields of a JSON config object (config.json, generation_config.json), raising
/// <see cref="InvalidDataException"/> that names the file and the field on any wrong value.
/// </summary>
internal sealed class JsonConfigReader
{
    private readonly JsonElement _root;

    public JsonConfigReader(JsonElement root, string source)
    {
        Source = source;
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"'{source}' must hold a JSON object, not a JSON {root.ValueKind}.");
        _root = root;
    }

    /// <summary>The file (or other source) named in messages.</summary>
    public string Source { get; }

    /// <summary>Parses JSON text strictly (<see cref="StrictJson"/>), or throws naming the source.</summary>
    public static JsonDocument ParseDocument(string json, string source)
    {
        return StrictJson.Parse(json, source, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
    }

    public InvalidDataException Error(string field, string problem) => new($"Field '{field}' in '{Source}' {problem}");

    /// <summary>The field's value when present and not null.</summary>
    public bool TryGet(string field, out JsonElement value)
    {
        if (_root.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public int RequiredInt(string field, int min)
        => OptionalInt(field, min) ?? throw Error(field, "is required but missing.");

    public int? OptionalInt(string field, int min)
    {
        if (!TryGet(field, out var v)) return null;
        return AsInt(field, v, min);
    }

    public int AsInt(string field, JsonElement v, int min)
    {
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt32(out int i) && i >= min) return i;
            // Some exporters write integral values as floats (e.g. 64.0).
            if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d >= min && d <= int.MaxValue) return (int)d;
        }
        throw Error(field, $"is {v.GetRawText()}; expected an integer ≥ {min}.");
    }

    public double? OptionalDouble(string field, double min, double max, bool minExclusive = false)
    {
        if (!TryGet(field, out var v)) return null;
        return AsDouble(field, v, min, max, minExclusive);
    }

    public double AsDouble(string field, JsonElement v, double min, double max, bool minExclusive = false)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d)
            && (minExclusive ? d > min : d >= min) && d <= max)
            return d;
        string range = $"{(minExclusive ? "> " : "≥ ")}{min}{(double.IsPositiveInfinity(max) ? "" : $" and ≤ {max}")}";
        throw Error(field, $"is {v.GetRawText()}; expected a number {range}.");
    }

    public bool? OptionalBool(string field)
    {
        if (!TryGet(field, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(field, $"is {v.GetRawText()}; expected true or false."),
        };
    }

    public string? OptionalString(string field)
    {
        if (!TryGet(field, out var v)) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error(field, $"is {v.GetRawText()}; expected a string.");
    }

    /// <summary>A token id given as a number or a list of numbers (empty when absent or null).</summary>
    public int[] IdList(string field)
    {
        if (!TryGet(field, out var v)) return [];
        if (v.ValueKind == JsonValueKind.Number) return [AsInt(field, v, 0)];
        if (v.ValueKind != JsonValueKind.Array) throw Error(field, $"is {v.GetRawText()}; expected a token id or a list of token ids.");
        var ids = new List<int>();
        foreach (var e in v.EnumerateArray()) ids.Add(AsInt(field, e, 0));
        return ids.Distinct().ToArray();
    }
}
