using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;
using PureLlama.Tokenization;

namespace PureLlama.Serving;

/// <summary>
/// A Microsoft.Extensions.AI <see cref="IChatClient"/> over a <see cref="ServingEngine"/> in this process: messages go
/// through the model's chat template, requests share the engine's continuous batch with every other user of it.
/// <see cref="ChatOptions"/> maps as: Temperature, TopP, TopK, MaxOutputTokens (default: what the context leaves),
/// StopSequences, Seed, Instructions (a system turn first) and ModelId (an adapter name of the engine, or the base
/// model's id / null for the base). Tools, response formats and frequency/presence penalties are not supported and
/// throw <see cref="NotSupportedException"/>. Cancelling the token ends the request and frees its sequence.
/// Disposing the client leaves the engine running (the caller owns it).
/// </summary>
public sealed class LlamaChatClient : IChatClient
{
    private readonly ServingEngine _engine;
    private readonly ChatTemplate _template;
    private readonly ChatClientMetadata _metadata;

    /// <summary>Creates a client over <paramref name="engine"/>, whose model must have a tokenizer (for its chat template).</summary>
    /// <param name="engine">The running engine (not disposed with the client).</param>
    /// <param name="modelId">The base model's id in responses and <see cref="ChatOptions.ModelId"/> (default: the model folder's name).</param>
    public LlamaChatClient(ServingEngine engine, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _template = engine.Runtime.Tokenizer?.ChatTemplate
            ?? throw new ArgumentException("The model has no tokenizer.json, so it has no chat template for a chat client.", nameof(engine));
        ModelId = modelId ?? DefaultModelId(engine.Runtime.Directory);
        _metadata = new ChatClientMetadata("purellama", null, ModelId);
    }

    /// <summary>The base model's id.</summary>
    public string ModelId { get; }

    /// <summary>The name a model folder is served under: its last path segment ("model" when there is none).</summary>
    internal static string DefaultModelId(string directory)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory ?? ""));
        return string.IsNullOrEmpty(name) ? "model" : name;
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (request, model) = Prepare(messages, options);
        var text = new StringBuilder();
        EngineToken last = default;
        int count = 0;
        await foreach (var t in _engine.Generate(request, cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            text.Append(t.Text);
            last = t;
            count++;
        }
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ResponseId = NewId(),
            ModelId = model,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = FinishReason(last.Finish),
            Usage = Usage(request.PromptIds.Length, count, last.CachedPromptTokens),
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (request, model) = Prepare(messages, options);
        string id = NewId();
        var created = DateTimeOffset.UtcNow;
        int count = 0;
        await foreach (var t in _engine.Generate(request, cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            count++;
            if (t.Finish is null && t.Text.Length == 0) continue; // text held back (a partial character or stop string)
            var update = new ChatResponseUpdate(ChatRole.Assistant, t.Text) { ResponseId = id, MessageId = id, ModelId = model, CreatedAt = created };
            if (t.Finish is { } finish)
            {
                update.FinishReason = FinishReason(finish);
                update.Contents.Add(new UsageContent(Usage(request.PromptIds.Length, count, t.CachedPromptTokens)));
            }
            yield return update;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        return null;
    }

    /// <summary>Leaves the engine running: its owner disposes it.</summary>
    public void Dispose() { }

    private (EngineRequest Request, string Model) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options is { Tools.Count: > 0 }) throw new NotSupportedException("Tools (function calling) are not supported by LlamaChatClient.");
        if (options?.ResponseFormat is ChatResponseFormatJson) throw new NotSupportedException("JSON response formats are not supported by LlamaChatClient.");
        string? adapter = null;
        string model = ModelId;
        if (options?.ModelId is { } id && id != ModelId)
        {
            if (!_engine.AdapterNames.Contains(id))
                throw new ArgumentException($"ModelId '{id}' is neither the base model '{ModelId}' nor an adapter of the engine ({string.Join(", ", _engine.AdapterNames)}).", nameof(options));
            adapter = id; model = id;
        }
        var turns = new List<ChatTurn>();
        if (!string.IsNullOrEmpty(options?.Instructions)) turns.Add(ChatTurn.System(options.Instructions));
        int index = 0;
        foreach (var m in messages)
        {
            if (m is null) throw new ArgumentException($"Message {index} is null.", nameof(messages));
            foreach (var c in m.Contents)
                if (c is not TextContent and not UsageContent)
                    throw new NotSupportedException($"Message {index} holds {c.GetType().Name}; LlamaChatClient takes text content only.");
            turns.Add(new ChatTurn(m.Role.Value, m.Text));
            index++;
        }
        if (turns.Count == 0) throw new ArgumentException("There are no messages.", nameof(messages));
        int[] prompt = _template.Encode(turns);
        var runtime = _engine.Runtime;
        int maxNew = ServingRequests.MaxNewTokens(prompt.Length, options?.MaxOutputTokens, _engine.MaxContextTokens, null, nameof(ChatOptions.MaxOutputTokens), nameof(messages));
        var sampling = ServingRequests.Sampling(runtime.DefaultSampling, maxNew, options?.Temperature, options?.TopP, options?.TopK, options?.Seed,
            options?.StopSequences is { Count: > 0 } stops ? [.. stops] : null, options?.PresencePenalty, options?.FrequencyPenalty);
        return (new EngineRequest(prompt, sampling, adapter), model);
    }

    private static ChatFinishReason? FinishReason(Llama.StopReason? reason) => ServingRequests.FinishReason(reason) switch
    {
        "stop" => ChatFinishReason.Stop,
        "length" => ChatFinishReason.Length,
        _ => null,
    };

    private static UsageDetails Usage(int prompt, int generated, int cached) => new()
    {
        InputTokenCount = prompt, OutputTokenCount = generated, TotalTokenCount = prompt + generated, CachedInputTokenCount = cached,
    };

    private static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N");
}
