using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace PureLlama.Server;

/// <summary>
/// The JSON object of a request body, read field by field so that each bad value is answered with a 400 naming
/// its field (OpenAI's <c>param</c>). A field that is absent or null reads as null.
/// </summary>
internal readonly struct RequestJson(JsonElement root)
{
    public JsonElement Root { get; } = root;

    /// <summary>Parses the body (at most the server's body limit; Kestrel answers 413 beyond it); not JSON or not an object: 400.</summary>
    public static async Task<JsonDocument> ParseAsync(HttpRequest request, CancellationToken ct)
    {
        JsonDocument doc;
        try { doc = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 64 }, ct); }
        catch (JsonException e) { throw ApiError.BadRequest($"The request body is not valid JSON: {e.Message}"); }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiError.BadRequest("The request body must be a JSON object.");
        }
        return doc;
    }

    /// <summary>The field, or null when absent or JSON null.</summary>
    public JsonElement? Get(string name) =>
        Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw ApiError.BadRequest($"{name} must be a string.", name),
    };

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw ApiError.BadRequest($"{name} must be true or false.", name),
    };

    public long? Long(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out long x) => x,
        _ => throw ApiError.BadRequest($"{name} must be an integer.", name),
    };

    /// <summary>An integer in [min, max].</summary>
    public int? Int(string name, int min, int max)
    {
        if (Long(name) is not long x) return null;
        if (x < min || x > max) throw ApiError.BadRequest($"{name} must be in [{min}, {max}], got {x}.", name);
        return (int)x;
    }

    /// <summary>A number in [min, max].</summary>
    public double? Number(string name, double min, double max)
    {
        double x = Get(name) switch
        {
            null => double.NaN,
            { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
            _ => throw ApiError.BadRequest($"{name} must be a number.", name),
        };
        if (double.IsNaN(x)) return null;
        if (x < min || x > max) throw ApiError.BadRequest($"{name} must be in [{min}, {max}], got {x}.", name);
        return x;
    }

    /// <summary>Answers 400 when the field is present with a value other than the accepted ones (a feature this server does not have).</summary>
    public void RejectUnless(string name, Func<JsonElement, bool> accepted, string what)
    {
        if (Get(name) is { } v && !accepted(v)) throw ApiError.BadRequest($"{name}: {what} is not supported by this server.", name);
    }
}
