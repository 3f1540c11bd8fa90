using System.ClientModel;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OpenAI.Chat;
using PureLlama.Serving;

namespace PureLlama.Server.Tests;

/// <summary>Each error the API answers, in OpenAI's shape and status, through the OpenAI client where it can send the request.</summary>
[Collection(ServerCollection.Name)]
public sealed class ErrorTests(ServerFixture fx)
{
    private static async Task<(int Status, (string Type, string? Param, string? Code) Error)> ClientError(Func<Task> call)
    {
        var e = (await call.Should().ThrowAsync<ClientResultException>()).Which;
        return (e.Status, Protocol.Error(e.GetRawResponse()!.Content.ToString()));
    }

    private Task<ClientResult<ChatCompletion>> Ask(string model, ChatCompletionOptions options, string? key = ServerFixture.ApiKey, string question = "Hi") =>
        fx.Client(key).GetChatClient(model).CompleteChatAsync([new UserChatMessage(question)], options);

    [Fact]
    public async Task BadParameterIs400NamingIt()
    {
        var (status, error) = await ClientError(() => Ask(fx.Server.ModelName, new ChatCompletionOptions { Temperature = 3f }));
        status.Should().Be(400);
        error.Should().Be(("invalid_request_error", "temperature", (string?)null));
    }

    [Fact]
    public async Task ContextExceededIs400()
    {
        var (status, error) = await ClientError(() => Ask(fx.Server.ModelName, new ChatCompletionOptions { MaxOutputTokenCount = 100_000 }));
        status.Should().Be(400);
        error.Code.Should().Be("context_length_exceeded");
        error.Param.Should().Be("max_completion_tokens");
        string longQuestion = string.Concat(Enumerable.Repeat("Which book comes after Genesis? ", 100));
        (status, error) = await ClientError(() => Ask(fx.Server.ModelName, new ChatCompletionOptions(), question: longQuestion));
        status.Should().Be(400);
        error.Should().Be(("invalid_request_error", "messages", "context_length_exceeded"));
    }

    [Fact]
    public async Task UnknownModelIs404()
    {
        var (status, error) = await ClientError(() => Ask("gpt-4o", new ChatCompletionOptions()));
        status.Should().Be(404);
        error.Should().Be(("invalid_request_error", "model", "model_not_found"));
    }

    [Fact]
    public async Task MissingOrWrongKeyIs401()
    {
        var (status, error) = await ClientError(() => Ask(fx.Server.ModelName, new ChatCompletionOptions(), key: "wrong"));
        status.Should().Be(401);
        error.Code.Should().Be("invalid_api_key");
        using var http = fx.Http(key: null);
        var response = await http.GetAsync("v1/models");
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        Protocol.Error(await response.Content.ReadAsStringAsync()).Code.Should().Be("invalid_api_key");
        (await http.GetAsync("health")).StatusCode.Should().Be(HttpStatusCode.OK, "health stays open for probes");
    }

    [Fact]
    public async Task BadJsonAndBadFieldsAre400()
    {
        using var http = fx.Http();
        foreach (var (body, param) in new (string, string?)[]
                 {
                     ("{\"messages\": [", null),
                     ("[1,2]", null),
                     ("{\"messages\": []}", "messages"),
                     ("{\"messages\": [{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages[0].role"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}", "messages[0].content"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"max_tokens\": \"ten\"}", "max_tokens"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"n\": 100}", "n"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"top_logprobs\": 2}", "top_logprobs"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"tools\": [{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}", "tools"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"frequency_penalty\": 2.5}", "frequency_penalty"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"presence_penalty\": \"high\"}", "presence_penalty"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"logit_bias\": {\"abc\": 1}}", "logit_bias"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"logit_bias\": {\"99999999\": 1}}", "logit_bias"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"logit_bias\": {\"5\": 101}}", "logit_bias"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"logit_bias\": [1]}", "logit_bias"),
                     ("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"stream_options\": {\"include_usage\": true}}", "stream_options"),
                 })
        {
            var response = await http.PostAsync("v1/chat/completions", Protocol.Body(body));
            string text = await response.Content.ReadAsStringAsync();
            ((int)response.StatusCode).Should().Be(400, body);
            Protocol.Error(text).Param.Should().Be(param, body);
        }
        var completion = await http.PostAsync("v1/completions", Protocol.Body("{\"prompt\": [1, 999999], \"max_tokens\": 2}"));
        ((int)completion.StatusCode).Should().Be(400);
        Protocol.Error(await completion.Content.ReadAsStringAsync()).Param.Should().Be("prompt");
    }

    [Fact]
    public async Task UnknownRouteIs404Json()
    {
        using var http = fx.Http();
        var response = await http.GetAsync("v1/embeddings");
        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        Protocol.Error(await response.Content.ReadAsStringAsync()).Code.Should().Be("not_found");
    }

    [Fact]
    public async Task LimitsAnswer413And429AndMaxTokens()
    {
        await using var limited = await LlamaServer.StartAsync(fx.Engine, new ServerOptions
        {
            Port = 0, MaxConcurrentRequests = 1, MaxBodyBytes = 2048, MaxTokensLimit = 8,
        });
        using var http = new HttpClient { BaseAddress = limited.Address };

        var big = await http.PostAsync("v1/chat/completions", Protocol.Body($"{{\"prompt\":\"{new string('x', 4096)}\"}}"));
        ((int)big.StatusCode).Should().Be(413);
        Protocol.Error(await big.Content.ReadAsStringAsync()).Code.Should().Be("request_too_large");

        var tooMany = await http.PostAsync("v1/completions", Protocol.Body("{\"prompt\":\"In the\",\"max_tokens\":9}"));
        ((int)tooMany.StatusCode).Should().Be(400);
        Protocol.Error(await tooMany.Content.ReadAsStringAsync()).Param.Should().Be("max_tokens");
        var capped = Protocol.Json(await (await http.PostAsync("v1/completions", Protocol.Body("{\"prompt\":\"In the\",\"temperature\":0}"))).Content.ReadAsStringAsync());
        capped.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().BeLessThanOrEqualTo(8, "the server's limit is the default");

        // A request whose body is still arriving holds the only slot: the next one is refused with 429.
        using var slow = new TcpClient();
        await slow.ConnectAsync(IPAddress.Loopback, limited.Address.Port);
        var stream = slow.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\":"));
        await stream.FlushAsync();
        for (int i = 0; i < 500 && !(await http.GetStringAsync("metrics")).Contains("\npurellama_http_requests_in_flight 1\n"); i++)
            await Task.Delay(20); // until the slow request has reached its handler (then it holds the slot)
        var refused = await http.PostAsync("v1/completions", Protocol.Body("{\"prompt\":\"In the\",\"max_tokens\":2}"));
        ((int)refused.StatusCode).Should().Be(429, await http.GetStringAsync("metrics"));
        refused.Headers.RetryAfter.Should().NotBeNull();
        Protocol.Error(await refused.Content.ReadAsStringAsync()).Should().Be(("rate_limit_error", (string?)null, "rate_limit_exceeded"));
        slow.Close();
        (await http.GetStringAsync("metrics")).Should().MatchRegex("purellama_http_requests_rejected_total [1-9]");
    }

    [Fact]
    public void BadServerOptionsAreNamed()
    {
        foreach (var (options, name) in new (ServerOptions, string)[]
                 {
                     (new() { Host = "example.com" }, "Host"), (new() { Port = 70000 }, "Port"), (new() { ApiKey = "" }, "ApiKey"),
                     (new() { MaxBodyBytes = 10 }, "MaxBodyBytes"), (new() { MaxTokensLimit = 0 }, "MaxTokensLimit"),
                     (new() { MaxConcurrentRequests = 0 }, "MaxConcurrentRequests"), (new() { MaxChoices = 0 }, "MaxChoices"),
                 })
            options.Invoking(o => o.Validate()).Should().Throw<ArgumentException>().Which.ParamName.Should().Be(name);
        new ServerOptions { Host = "::1" }.Validate();
        new ServerOptions { Host = "localhost" }.Validate();
    }

    [Fact]
    public async Task AModelWithoutTokenizerIsRefusedAtStart()
    {
        string dir = Path.Combine(Path.GetTempPath(), "purellama-serve-notok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(fx.ModelDir, f), Path.Combine(dir, f));
            using var runtime = Llama.LlamaRuntime.Load(dir);
            using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20 });
            var start = () => LlamaServer.StartAsync(engine, new ServerOptions { Port = 0 });
            await start.Should().ThrowAsync<ArgumentException>().WithMessage("*tokenizer*");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task EngineQueueFullIs429EvenWhenStreaming()
    {
        // An engine that queues nothing (MaxWaitingRequests = 0) refuses every request with ServingOverloadedException.
        using var runtime = Llama.LlamaRuntime.Load(fx.ModelDir);
        using var engine = ServingEngine.Start(runtime, new ServingOptions { KvMemoryBytes = 1 << 20, MaxWaitingRequests = 0 });
        await using var server = await LlamaServer.StartAsync(engine, new ServerOptions { Port = 0 });
        var chat = ServerFixture.ClientFor(server, key: null).GetChatClient(server.ModelName);
        var (status, error) = await ClientError(() => chat.CompleteChatAsync([new UserChatMessage("Hi")]));
        status.Should().Be(429);
        error.Should().Be(("rate_limit_error", (string?)null, "rate_limit_exceeded"));
        var streaming = async () => { await foreach (var _ in chat.CompleteChatStreamingAsync([new UserChatMessage("Hi")])) { } };
        (await streaming.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(429, "the status waits for the first token");
        ApiError.From(new InvalidOperationException("bug")).Should().BeNull("a server fault is a 500, not the client's error");
    }
}
