using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;

namespace PureLlama.Server.Tests;

/// <summary>Raw requests for what the OpenAI client has no typed call for (completions, n, bad JSON) and SSE reading.</summary>
internal static class Protocol
{
    /// <summary>POSTs JSON through the OpenAI client's own pipeline (its bearer key, its transport): the client's raw protocol path.</summary>
    public static async Task<(int Status, string Body)> PostAsync(OpenAI.OpenAIClient client, Uri address, string path, string json, CancellationToken ct = default)
    {
        var pipeline = client.Pipeline;
        using var message = pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(address, path);
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Content = BinaryContent.Create(BinaryData.FromString(json));
        await pipeline.SendAsync(message);
        return (message.Response!.Status, message.Response.Content.ToString());
    }

    /// <summary>The JSON objects of the <c>data:</c> events of an SSE body, and whether it ended with <c>data: [DONE]</c>.</summary>
    public static (List<JsonElement> Events, bool Done) ParseSse(string body)
    {
        var events = new List<JsonElement>();
        bool done = false;
        foreach (var block in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            block.Should().StartWith("data: ");
            string data = block["data: ".Length..];
            if (data == "[DONE]") { done = true; continue; }
            done.Should().BeFalse("nothing may follow [DONE]");
            events.Add(JsonDocument.Parse(data).RootElement.Clone());
        }
        return (events, done);
    }

    public static JsonElement Json(string body) => JsonDocument.Parse(body).RootElement.Clone();

    /// <summary>Asserts OpenAI's error shape and returns (type, param, code).</summary>
    public static (string Type, string? Param, string? Code) Error(string body)
    {
        var error = Json(body).GetProperty("error");
        error.GetProperty("message").GetString().Should().NotBeNullOrWhiteSpace();
        return (error.GetProperty("type").GetString()!, error.GetProperty("param").GetString(), error.GetProperty("code").GetString());
    }

    public static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");
}
