using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PureLlama.Serving;

namespace PureLlama.Server;

/// <summary>
/// The OpenAI-compatible HTTP server of <c>purellama serve</c> over a <see cref="ServingEngine"/> (ASP.NET Core minimal
/// APIs on Kestrel): POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics.
/// Errors are OpenAI's <c>{"error":{"message","type","param","code"}}</c>. Listens on loopback unless
/// <see cref="ServerOptions.Host"/> says otherwise. The engine stays owned by the caller.
/// </summary>
public sealed class LlamaServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LlamaServer(WebApplication app, Uri address, string modelName)
    {
        _app = app; Address = address; ModelName = modelName;
    }

    /// <summary>Where the server listens, e.g. http://127.0.0.1:8080/ (the port chosen when <see cref="ServerOptions.Port"/> is 0).</summary>
    public Uri Address { get; }

    /// <summary>The id the base model is served under.</summary>
    public string ModelName { get; }

    /// <summary>Starts listening; returns once the socket is bound.</summary>
    public static async Task<LlamaServer> StartAsync(ServingEngine engine, ServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (engine.Runtime.Tokenizer is null)
            throw new ArgumentException("The model has no tokenizer (tokenizer.json): the API's text, chat template and stop strings need one.", nameof(engine));
        var state = new ServerState(engine, options);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = typeof(LlamaServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.AddServerHeader = false;
            Listen(k, options.Host, options.Port);
        });
        var app = builder.Build();
        Map(app, state);
        await app.StartAsync(cancellationToken);
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LlamaServer(app, new Uri(bound.EndsWith('/') ? bound : bound + "/"), state.Models.BaseId);
    }

    private static void Listen(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions k, string host, int port)
    {
        if (host == "localhost") k.ListenLocalhost(port);
        else k.Listen(IPAddress.Parse(host), port); // ServerOptions.Validate checked it
    }

    private static void Map(WebApplication app, ServerState state)
    {
        var chat = new ChatCompletionsEndpoint(state);
        var completions = new CompletionsEndpoint(state);
        app.Use(async (context, next) =>
        {
            if (state.Options.ApiKey is { } key && context.Request.Path.StartsWithSegments("/v1") && !Authorized(context.Request, key))
            {
                await new ApiError(401, "Missing or wrong API key: send Authorization: Bearer <key>.", code: "invalid_api_key")
                    .WriteAsync(context.Response, context.RequestAborted);
                return;
            }
            await next(context);
        });
        app.MapPost("/v1/chat/completions", context => Guard(context, state, chat.HandleAsync));
        app.MapPost("/v1/completions", context => Guard(context, state, completions.HandleAsync));
        app.MapGet("/v1/models", context => JsonBody.WriteAsync(context.Response, state.Models.WriteList, context.RequestAborted));
        app.MapGet("/v1/models/{id}", context =>
        {
            string id = (string)context.Request.RouteValues["id"]!;
            return Guard(context, state, c =>
            {
                state.Models.Resolve(id);
                return JsonBody.WriteAsync(c.Response, w => state.Models.WriteOne(w, id), c.RequestAborted);
            });
        });
        app.MapGet("/health", context => JsonBody.WriteAsync(context.Response, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "ok");
            w.WriteEndObject();
        }, context.RequestAborted));
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = PrometheusMetrics.ContentType;
            await context.Response.WriteAsync(PrometheusMetrics.Render(state), context.RequestAborted);
        });
        app.MapFallback(context => new ApiError(404, $"There is no {context.Request.Method} {context.Request.Path} here.", code: "not_found")
            .WriteAsync(context.Response, context.RequestAborted));
    }

    /// <summary>Constant-time comparison of the bearer token with the key.</summary>
    private static bool Authorized(HttpRequest request, string key)
    {
        string header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()), Encoding.UTF8.GetBytes(key));
    }

    /// <summary>
    /// Runs a handler and answers its failures in OpenAI's error shape: a JSON error before the response began, a
    /// <c>data: {"error"…}</c> event once a stream is under way, nothing when the client has gone (its sequences are
    /// cancelled by then). Faults that are not the request's are 500 server_error, logged to stderr.
    /// </summary>
    private static async Task Guard(HttpContext context, ServerState state, Func<HttpContext, Task> handler)
    {
        try { await handler(context); }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { }
        catch (Exception e)
        {
            if (context.RequestAborted.IsCancellationRequested) return;
            var error = ApiError.From(e);
            if (error is null)
            {
                Console.Error.WriteLine($"serve: {context.Request.Method} {context.Request.Path} failed: {e}");
                error = new ApiError(500, $"The server failed: {e.Message}", "server_error");
            }
            if (error.Status == StatusCodes.Status429TooManyRequests) state.CountRejected();
            try
            {
                if (ServerSentEvents.IsStreaming(context.Response)) await ServerSentEvents.WriteErrorAsync(context.Response, error, context.RequestAborted);
                else if (!context.Response.HasStarted) await error.WriteAsync(context.Response, context.RequestAborted);
            }
            catch (Exception) when (context.RequestAborted.IsCancellationRequested) { }
        }
    }

    /// <summary>Completes when the server stops (<see cref="DisposeAsync"/> or the token).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops listening (requests in flight are cancelled) and frees the host; the engine is left running.</summary>
    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _app.StopAsync(cts.Token); } catch (OperationCanceledException) { }
        await _app.DisposeAsync();
    }
}
