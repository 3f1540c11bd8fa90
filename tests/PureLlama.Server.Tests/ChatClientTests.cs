using Microsoft.Extensions.AI;
using PureLlama.Serving;

namespace PureLlama.Server.Tests;

/// <summary><see cref="LlamaChatClient"/> (Microsoft.Extensions.AI) over the fixture's engine, in process, against generate's greedy tokens.</summary>
[Collection(ServerCollection.Name)]
public sealed class ChatClientTests(ServerFixture fx)
{
    private const string Question = "Which book comes before Psalms?";

    private IChatClient Client() => new LlamaChatClient(fx.Engine, "demo");

    [Fact]
    public async Task ResponseEqualsGenerate()
    {
        var expected = fx.Generate(fx.ChatPrompt(Question), 14);
        using var client = Client();
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, Question)], new ChatOptions { Temperature = 0, MaxOutputTokens = 14 });
        response.Text.Should().Be(expected.Text);
        response.Messages.Should().ContainSingle().Which.Role.Should().Be(ChatRole.Assistant);
        response.FinishReason.Should().Be(ChatFinishReason.Length);
        response.ModelId.Should().Be("demo");
        response.Usage!.InputTokenCount.Should().Be(fx.ChatPrompt(Question).Length);
        response.Usage.OutputTokenCount.Should().Be(14);
        response.Usage.CachedInputTokenCount.Should().BeInRange(0, fx.ChatPrompt(Question).Length);
    }

    [Fact]
    public async Task StreamingEqualsGenerate()
    {
        var expected = fx.Generate(fx.ChatPrompt(Question), 14);
        using var client = Client();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, Question)], new ChatOptions { Temperature = 0, MaxOutputTokens = 14 }))
            updates.Add(u);
        updates.Count.Should().BeGreaterThan(2);
        string.Concat(updates.Select(u => u.Text)).Should().Be(expected.Text);
        updates.Last().FinishReason.Should().Be(ChatFinishReason.Length);
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Should().ContainSingle().Subject.Details;
        usage.OutputTokenCount.Should().Be(14);
        updates.ToChatResponse().Text.Should().Be(expected.Text);
    }

    [Fact]
    public async Task OptionsAreMapped()
    {
        using var client = Client();
        var free = fx.Generate(fx.ChatPrompt(Question), 20);
        string stop = free.Text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var stopped = await client.GetResponseAsync([new ChatMessage(ChatRole.User, Question)], new ChatOptions { Temperature = 0, MaxOutputTokens = 20, StopSequences = [stop] });
        stopped.FinishReason.Should().Be(ChatFinishReason.Stop);
        stopped.Text.Should().Be(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)]);

        ChatOptions Sampled(long seed) => new() { Temperature = 1f, TopP = 0.9f, TopK = 50, Seed = seed, MaxOutputTokens = 20 };
        string a = (await client.GetResponseAsync(Question, Sampled(21))).Text;
        (await client.GetResponseAsync(Question, Sampled(21))).Text.Should().Be(a, "the same seed samples the same tokens");

        var system = await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 10, Instructions = "Answer briefly." });
        system.Usage!.InputTokenCount.Should().Be(fx.Template.Encode([Tokenization.ChatTurn.System("Answer briefly."), Tokenization.ChatTurn.User(Question)]).Length);

        var adapted = await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 10, ModelId = ServerFixture.Adapter });
        adapted.ModelId.Should().Be(ServerFixture.Adapter);
        var unknown = () => client.GetResponseAsync(Question, new ChatOptions { ModelId = "nope" });
        await unknown.Should().ThrowAsync<ArgumentException>().WithMessage("*nope*");
        var tooLong = () => client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 10_000 });
        await tooLong.Should().ThrowAsync<Llama.ContextLengthExceededException>();
        var penalised = await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 20, FrequencyPenalty = 1.5f, PresencePenalty = 0.5f });
        penalised.Text.Should().Be(fx.Generate(fx.ChatPrompt(Question), 20, tweak: o => o with { FrequencyPenalty = 1.5f, PresencePenalty = 0.5f }).Text);
        var outOfRange = () => client.GetResponseAsync(Question, new ChatOptions { FrequencyPenalty = 2.5f });
        await outOfRange.Should().ThrowAsync<ArgumentException>().WithMessage("*frequency_penalty*");
        client.GetService<ChatClientMetadata>()!.DefaultModelId.Should().Be("demo");
        client.GetService<ServingEngine>().Should().BeSameAs(fx.Engine);
    }

    [Fact]
    public async Task CancellationEndsTheRequestAndFreesItsSequence()
    {
        var before = await fx.WaitIdleAsync();
        using var slow = fx.SlowEngine();
        using var client = Client();
        using var cts = new CancellationTokenSource();
        var cancelWhenRunning = Task.Run(async () =>
        {
            while (fx.Engine.Metrics.Running == 0 && !cts.IsCancellationRequested) await Task.Delay(1);
            cts.Cancel();
        });
        var act = async () =>
        {
            await foreach (var u in client.GetStreamingResponseAsync(Question, new ChatOptions { Temperature = 1, Seed = 1, MaxOutputTokens = 440 }, cts.Token))
                u.FinishReason.Should().BeNull("the request is cancelled before its end");
        };
        await act.Should().ThrowAsync<OperationCanceledException>();
        await cancelWhenRunning;
        var after = await fx.WaitIdleAsync();
        after.Running.Should().Be(0);
        after.KvBlocksUsed.Should().Be(0);
        (after.GeneratedTokens - before.GeneratedTokens).Should().BeLessThan(440);

        using var early = new CancellationTokenSource();
        early.Cancel();
        var cancelled = () => client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 8 }, early.Token);
        await cancelled.Should().ThrowAsync<OperationCanceledException>();
        (await fx.WaitIdleAsync()).Running.Should().Be(0);
    }
}
