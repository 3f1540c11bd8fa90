using System.Text.Json;
using Microsoft.AspNetCore.Http;
using PureLlama.Llama;
using PureLlama.Serving;

namespace PureLlama.Server;

/// <summary>
/// An error answered in OpenAI's shape, <c>{"error":{"message","type","param","code"}}</c>, with its HTTP status.
/// Thrown by request handling and turned into the response by <see cref="WriteAsync"/>.
/// </summary>
internal sealed class ApiError(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiError BadRequest(string message, string? param = null, string? code = null) => new(400, message, param: param, code: code);

    /// <summary>The API error for an exception from parsing or the engine; null for one that is a server fault.</summary>
    public static ApiError? From(Exception e) => e switch
    {
        ApiError api => api,
        ContextLengthExceededException c => new(400, c.Message, param: c.Param, code: "context_length_exceeded"),
        ServingOverloadedException o => new(429, o.Message, "rate_limit_error", code: "rate_limit_exceeded"),
        ArgumentException a => new(400, Plain(a), param: a.ParamName),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } b =>
            new(413, b.Message, code: "request_too_large"),
        BadHttpRequestException b => new(b.StatusCode, b.Message),
        _ => null,
    };

    /// <summary>An exception's message without the " (Parameter 'x')" that ArgumentException appends.</summary>
    private static string Plain(ArgumentException a)
    {
        string suffix = $" (Parameter '{a.ParamName}')";
        return a.ParamName is not null && a.Message.EndsWith(suffix, StringComparison.Ordinal) ? a.Message[..^suffix.Length] : a.Message;
    }

    public void WriteBody(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", Message);
        w.WriteString("type", Type);
        if (Param is null) w.WriteNull("param"); else w.WriteString("param", Param);
        if (Code is null) w.WriteNull("code"); else w.WriteString("code", Code);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public Task WriteAsync(HttpResponse response, CancellationToken ct)
    {
        response.StatusCode = Status;
        if (Status == StatusCodes.Status429TooManyRequests) response.Headers.RetryAfter = "1";
        if (Status == StatusCodes.Status401Unauthorized) response.Headers.WWWAuthenticate = "Bearer";
        return JsonBody.WriteAsync(response, WriteBody, ct);
    }
}
