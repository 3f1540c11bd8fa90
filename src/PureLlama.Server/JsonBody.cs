using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace PureLlama.Server;

/// <summary>Writes JSON bodies with a <see cref="Utf8JsonWriter"/> (the shapes are OpenAI's, written field by field).</summary>
internal static class JsonBody
{
    // Text stays readable (no \u0027 for quotes, no escaped non-ASCII); the bodies are JSON, never embedded in HTML.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Serialize(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, Options)) write(w);
        return buffer.WrittenSpan.ToArray();
    }

    public static async Task WriteAsync(HttpResponse response, Action<Utf8JsonWriter> write, CancellationToken ct)
    {
        byte[] body = Serialize(write);
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, ct);
    }

    /// <summary>A log-probability as JSON: non-finite values (which JSON cannot hold) as OpenAI's floor, −9999.</summary>
    public static void WriteLogprob(Utf8JsonWriter w, string name, float value) =>
        w.WriteNumber(name, float.IsFinite(value) ? value : -9999f);
}
