using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace PureLlama.Server;

/// <summary>A <c>text/event-stream</c> response: <c>data: {json}</c> events, each flushed at once, ended by <c>data: [DONE]</c>.</summary>
internal sealed class ServerSentEvents
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Separator = "\n\n"u8.ToArray();
    private static readonly byte[] Done = Encoding.UTF8.GetBytes("data: [DONE]\n\n");
    private readonly HttpResponse _response;

    private ServerSentEvents(HttpResponse response) => _response = response;

    /// <summary>Sends the 200 headers of an event stream.</summary>
    public static async Task<ServerSentEvents> StartAsync(HttpResponse response, CancellationToken ct)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(ct);
        return new ServerSentEvents(response);
    }

    /// <summary>True when <paramref name="response"/> is an event stream already under way (errors then go in an event).</summary>
    public static bool IsStreaming(HttpResponse response) =>
        response.HasStarted && response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true;

    public async Task WriteAsync(Action<Utf8JsonWriter> write, CancellationToken ct)
    {
        byte[] json = JsonBody.Serialize(write);
        await _response.Body.WriteAsync(Prefix, ct);
        await _response.Body.WriteAsync(json, ct);
        await _response.Body.WriteAsync(Separator, ct);
        await _response.Body.FlushAsync(ct);
    }

    public async Task WriteDoneAsync(CancellationToken ct)
    {
        await _response.Body.WriteAsync(Done, ct);
        await _response.Body.FlushAsync(ct);
    }

    /// <summary>An error after the stream began: one <c>data: {"error":…}</c> event.</summary>
    public static async Task WriteErrorAsync(HttpResponse response, ApiError error, CancellationToken ct)
    {
        var events = new ServerSentEvents(response);
        await events.WriteAsync(error.WriteBody, ct);
    }
}
