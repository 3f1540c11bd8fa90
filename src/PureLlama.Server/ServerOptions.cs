namespace PureLlama.Server;

/// <summary>Settings of the HTTP server of <c>purellama serve</c> (the engine has its own, <see cref="Serving.ServingOptions"/>).</summary>
public sealed record ServerOptions
{
    /// <summary>Address to listen on: an IP address or localhost; loopback unless opened on purpose (e.g. 0.0.0.0).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="LlamaServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every <c>/v1/…</c> request needs <c>Authorization: Bearer</c> with this key.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The id the base model is served under (default: the model folder's name).</summary>
    public string? ModelName { get; init; }

    /// <summary>Largest request body accepted, in bytes (larger: 413).</summary>
    public long MaxBodyBytes { get; init; } = 4L << 20;

    /// <summary>Largest max_tokens a request may ask for, and the default when it asks for none (null: what the context leaves).</summary>
    public int? MaxTokensLimit { get; init; }

    /// <summary>Generation requests (chat and completions) handled at once; more are refused with 429.</summary>
    public int MaxConcurrentRequests { get; init; } = 64;

    /// <summary>Largest <c>n</c> (choices per request; each is a sequence of the engine).</summary>
    public int MaxChoices { get; init; } = 8;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (Host != "localhost" && !System.Net.IPAddress.TryParse(Host, out _))
            throw new ArgumentException($"Host must be an IP address (127.0.0.1, 0.0.0.0, ::1, …) or localhost, got '{Host}'.", nameof(Host));
        if (Port is < 0 or > 65535) throw new ArgumentException($"Port must be in [0, 65535], got {Port}.", nameof(Port));
        if (ApiKey is { Length: 0 }) throw new ArgumentException("ApiKey is empty; leave it unset to serve without a key.", nameof(ApiKey));
        if (ModelName is { } name && string.IsNullOrWhiteSpace(name)) throw new ArgumentException("ModelName is blank.", nameof(ModelName));
        if (MaxBodyBytes < 1024) throw new ArgumentException($"MaxBodyBytes must be at least 1024, got {MaxBodyBytes}.", nameof(MaxBodyBytes));
        if (MaxTokensLimit is < 1) throw new ArgumentException($"MaxTokensLimit must be at least 1, got {MaxTokensLimit}.", nameof(MaxTokensLimit));
        if (MaxConcurrentRequests < 1) throw new ArgumentException($"MaxConcurrentRequests must be at least 1, got {MaxConcurrentRequests}.", nameof(MaxConcurrentRequests));
        if (MaxChoices < 1) throw new ArgumentException($"MaxChoices must be at least 1, got {MaxChoices}.", nameof(MaxChoices));
    }
}
