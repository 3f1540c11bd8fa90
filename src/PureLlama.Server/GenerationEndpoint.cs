using System.Text.Json;
using Microsoft.AspNetCore.Http;
using PureLlama.Serving;

namespace PureLlama.Server;

/// <summary>The prompts of a request (one or more) and what it asks of log-probabilities.</summary>
/// <param name="Prompts">Token ids per prompt.</param>
/// <param name="PromptParam">The field the prompts came from (messages or prompt), for errors.</param>
/// <param name="Logprobs">Return each token's log-probability.</param>
/// <param name="TopLogprobs">Alternatives per token.</param>
internal sealed record PreparedPrompts(IReadOnlyList<int[]> Prompts, string PromptParam, bool Logprobs, int TopLogprobs);

/// <summary>
/// What /v1/chat/completions and /v1/completions share: a generation slot, the body's common fields, the model,
/// n engine requests per prompt run at once (<see cref="ChoiceRun"/>), and the answer either whole (JSON) or as
/// server-sent event chunks with an optional usage chunk and <c>data: [DONE]</c>. The first token is awaited before
/// the status is sent, so an overload or a bad request found by the engine is still a 4xx. The subclasses give the
/// prompts and the JSON shapes of their choices.
/// </summary>
internal abstract class GenerationEndpoint(ServerState state)
{
    protected ServerState State { get; } = state;
    protected abstract string IdPrefix { get; }
    protected abstract string ObjectName { get; }
    protected abstract string ChunkObjectName { get; }

    protected abstract PreparedPrompts Prepare(RequestJson json);
    /// <summary>One choice of the whole response.</summary>
    protected abstract void WriteChoice(Utf8JsonWriter w, int index, ChoiceOutput output, PreparedPrompts prepared);
    /// <summary>Whether a stream opens with a chunk per choice before the first token (chat: the assistant role).</summary>
    protected virtual bool HasStartChoice => false;
    /// <summary>The choice of that opening chunk.</summary>
    protected virtual void WriteStartChoice(Utf8JsonWriter w, int index) { }
    /// <summary>The choice of a chunk carrying one token's text (and logprobs); <paramref name="textOffset"/>: the choice's text length before it.</summary>
    protected abstract void WriteTokenChoice(Utf8JsonWriter w, int index, EngineToken token, bool withLogprobs, int textOffset);
    /// <summary>The choice of a choice's last chunk, with its finish_reason.</summary>
    protected abstract void WriteFinishChoice(Utf8JsonWriter w, int index, string? finishReason);

    public async Task HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        using var slot = State.Enter();
        using var doc = await RequestJson.ParseAsync(context.Request, aborted);
        var json = new RequestJson(doc.RootElement);
        var p = GenerationParameters.Read(json, State.Options, State.Engine.Runtime.Model.VocabSize);
        string? adapter = State.Models.Resolve(p.Model);
        var prepared = Prepare(json);
        var engine = State.Engine;
        var requests = new List<EngineRequest>();
        var outputs = new List<ChoiceOutput>();
        foreach (var prompt in prepared.Prompts)
        {
            int maxNew = ServingRequests.MaxNewTokens(prompt.Length, p.MaxTokens, engine.MaxContextTokens, State.Options.MaxTokensLimit,
                p.MaxTokensParam, prepared.PromptParam);
            for (int i = 0; i < p.N; i++)
            {
                var sampling = ServingRequests.Sampling(engine.Runtime.DefaultSampling, maxNew, p.Temperature, p.TopP, p.TopK,
                    p.Seed is long s ? unchecked(s + i) : null, p.Stop, p.PresencePenalty, p.FrequencyPenalty, p.LogitBias);
                requests.Add(new EngineRequest(prompt, sampling, adapter, prepared.TopLogprobs, prepared.Logprobs));
                outputs.Add(new ChoiceOutput(prompt.Length));
            }
        }
        var head = new ResponseHead(IdPrefix + Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow.ToUnixTimeSeconds(), p.Model ?? State.Models.BaseId);
        await using var run = new ChoiceRun(engine, requests, aborted);
        try { await run.WaitForFirstAsync(aborted); }
        catch (ArgumentException e) when (e.ParamName == nameof(EngineRequest.PromptIds))
        {
            throw ApiError.BadRequest(e.Message[..^$" (Parameter '{e.ParamName}')".Length], prepared.PromptParam); // e.g. the prompt outgrows the KV memory
        }
        if (p.Stream) await StreamAsync(context.Response, run, outputs, prepared, p, head, slot, aborted);
        else
        {
            await foreach (var item in run.ReadAllAsync(aborted)) outputs[item.Choice].Add(item.Token, prepared.Logprobs);
            slot.Dispose();
            await JsonBody.WriteAsync(context.Response, w =>
            {
                w.WriteStartObject();
                head.Write(w, ObjectName);
                w.WriteStartArray("choices");
                for (int i = 0; i < outputs.Count; i++) WriteChoice(w, i, outputs[i], prepared);
                w.WriteEndArray();
                Usage.Write(w, outputs, p.N);
                w.WriteEndObject();
            }, aborted);
        }
    }

    private async Task StreamAsync(HttpResponse response, ChoiceRun run, List<ChoiceOutput> outputs, PreparedPrompts prepared,
        GenerationParameters p, ResponseHead head, ServerState.Slot slot, CancellationToken ct)
    {
        var sse = await ServerSentEvents.StartAsync(response, ct);
        for (int i = 0; HasStartChoice && i < outputs.Count; i++)
        {
            int index = i;
            await sse.WriteAsync(w => Chunk(w, head, p.IncludeUsage, cw => WriteStartChoice(cw, index)), ct);
        }
        await foreach (var (index, token) in run.ReadAllAsync(ct))
        {
            var output = outputs[index];
            int offset = output.Text.Length;
            output.Add(token, keepLogprobs: false);
            bool withLogprobs = prepared.Logprobs && ChoiceOutput.HasLogprob(token);
            if (token.Text.Length > 0 || withLogprobs)
                await sse.WriteAsync(w => Chunk(w, head, p.IncludeUsage, cw => WriteTokenChoice(cw, index, token, withLogprobs, offset)), ct);
            if (token.Finish is not null)
                await sse.WriteAsync(w => Chunk(w, head, p.IncludeUsage, cw => WriteFinishChoice(cw, index, output.FinishReason)), ct);
        }
        slot.Dispose(); // every sequence has ended
        if (p.IncludeUsage)
            await sse.WriteAsync(w =>
            {
                w.WriteStartObject();
                head.Write(w, ChunkObjectName);
                w.WriteStartArray("choices");
                w.WriteEndArray();
                Usage.Write(w, outputs, p.N);
                w.WriteEndObject();
            }, ct);
        await sse.WriteDoneAsync(ct);
    }

    private void Chunk(Utf8JsonWriter w, ResponseHead head, bool includeUsage, Action<Utf8JsonWriter> choice)
    {
        w.WriteStartObject();
        head.Write(w, ChunkObjectName);
        w.WriteStartArray("choices");
        choice(w);
        w.WriteEndArray();
        if (includeUsage) w.WriteNull("usage"); // with include_usage every chunk has "usage": null but the last
        w.WriteEndObject();
    }

    /// <summary>id, object, created and model: the first fields of every response and chunk.</summary>
    protected readonly record struct ResponseHead(string Id, long Created, string Model)
    {
        public void Write(Utf8JsonWriter w, string objectName)
        {
            w.WriteString("id", Id);
            w.WriteString("object", objectName);
            w.WriteNumber("created", Created);
            w.WriteString("model", Model);
        }
    }
}
