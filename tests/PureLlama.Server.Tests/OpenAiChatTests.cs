using OpenAI.Chat;

namespace PureLlama.Server.Tests;

/// <summary>/v1/chat/completions and /v1/models through the official OpenAI .NET client, against generate's greedy tokens.</summary>
[Collection(ServerCollection.Name)]
public sealed class OpenAiChatTests(ServerFixture fx)
{
    private const string Question = "Which book comes after Genesis?";

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    [Fact]
    public async Task ChatCompletionEqualsGenerate()
    {
        var expected = fx.Generate(fx.ChatPrompt(Question), 16);
        var result = await fx.Client().GetChatClient(fx.Server.ModelName).CompleteChatAsync([new UserChatMessage(Question)], Greedy(16));
        var completion = result.Value;
        completion.Content.Should().ContainSingle().Which.Text.Should().Be(expected.Text);
        completion.Role.Should().Be(ChatMessageRole.Assistant);
        completion.Model.Should().Be(fx.Server.ModelName);
        completion.Id.Should().StartWith("chatcmpl-");
        completion.FinishReason.Should().Be(expected.Stop == Llama.StopReason.MaxNewTokens ? ChatFinishReason.Length : ChatFinishReason.Stop);
        completion.Usage.InputTokenCount.Should().Be(fx.ChatPrompt(Question).Length);
        completion.Usage.OutputTokenCount.Should().Be(expected.Ids.Length);
        completion.Usage.TotalTokenCount.Should().Be(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount);
        completion.Usage.InputTokenDetails.CachedTokenCount.Should().BeInRange(0, completion.Usage.InputTokenCount);
    }

    [Fact]
    public async Task PenaltiesAndLogitBiasEqualGenerateWithTheSameSettings()
    {
        var free = fx.Generate(fx.ChatPrompt(Question), 24);
        // Ban the greedy first token, push another one up, and penalise repeats: every setting must change the answer
        // exactly as it changes generate's.
        var bias = new Dictionary<int, float> { [free.Ids[0]] = -100, [free.Ids[2]] = 3 };
        var expected = fx.Generate(fx.ChatPrompt(Question), 24, tweak: o => o with { LogitBias = bias, PresencePenalty = 0.8f, FrequencyPenalty = 0.6f });
        expected.Ids[0].Should().NotBe(free.Ids[0], "a bias of −100 bans the token");
        var options = Greedy(24);
        options.PresencePenalty = 0.8f;
        options.FrequencyPenalty = 0.6f;
        foreach (var (id, b) in bias) options.LogitBiases[id] = (int)b;
        var completion = (await fx.Client().GetChatClient(fx.Server.ModelName).CompleteChatAsync([new UserChatMessage(Question)], options)).Value;
        completion.Content.Should().ContainSingle().Which.Text.Should().Be(expected.Text);
        completion.Usage.OutputTokenCount.Should().Be(expected.Ids.Length);
    }

    [Fact]
    public async Task StreamingChatEqualsGenerateAndEndsWithUsage()
    {
        var expected = fx.Generate(fx.ChatPrompt(Question), 16);
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var u in fx.Client().GetChatClient(fx.Server.ModelName).CompleteChatStreamingAsync([new UserChatMessage(Question)], Greedy(16)))
        {
            updates++;
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
            finish ??= u.FinishReason;
            usage ??= u.Usage;
        }
        text.ToString().Should().Be(expected.Text);
        updates.Should().BeGreaterThan(2, "tokens arrive as separate chunks");
        finish.Should().Be(ChatFinishReason.Length);
        usage.Should().NotBeNull("the client asks for stream_options.include_usage");
        usage!.OutputTokenCount.Should().Be(expected.Ids.Length);
        usage.InputTokenCount.Should().Be(fx.ChatPrompt(Question).Length);
    }

    [Fact]
    public async Task StopSequenceEndsWithStopAndCutsTheText()
    {
        var free = fx.Generate(fx.ChatPrompt(Question), 24);
        // A stop string from the middle of the greedy text: the answer must end right before it.
        string stop = free.Text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var options = Greedy(24);
        options.StopSequences.Add(stop);
        var result = await fx.Client().GetChatClient(fx.Server.ModelName).CompleteChatAsync([new UserChatMessage(Question)], options);
        string text = result.Value.Content[0].Text;
        result.Value.FinishReason.Should().Be(ChatFinishReason.Stop);
        text.Should().Be(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)]);
    }

    [Fact]
    public async Task SeededSamplingRepeats()
    {
        ChatCompletionOptions Options(long seed) => new() { Temperature = 1.0f, TopP = 0.95f, Seed = seed, MaxOutputTokenCount = 24 };
        var chat = fx.Client().GetChatClient(fx.Server.ModelName);
        string a = (await chat.CompleteChatAsync([new UserChatMessage(Question)], Options(5))).Value.Content[0].Text;
        string b = (await chat.CompleteChatAsync([new UserChatMessage(Question)], Options(5))).Value.Content[0].Text;
        var others = new List<string>();
        for (int seed = 6; seed < 9; seed++) others.Add((await chat.CompleteChatAsync([new UserChatMessage(Question)], Options(seed))).Value.Content[0].Text);
        b.Should().Be(a);
        others.Should().Contain(o => o != a, "other seeds sample other tokens");
    }

    [Fact]
    public async Task LogprobsComeWithEveryToken()
    {
        var options = Greedy(8);
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        var completion = (await fx.Client().GetChatClient(fx.Server.ModelName).CompleteChatAsync([new UserChatMessage(Question)], options)).Value;
        var tokens = completion.ContentTokenLogProbabilities;
        // The first token's logprob is the model's log-softmax at the prompt's last position (float64 here).
        int[] prompt = fx.ChatPrompt(Question);
        float[] logits = fx.ReferenceLogits(prompt);
        int vocab = logits.Length / prompt.Length;
        var last = logits.AsSpan((prompt.Length - 1) * vocab, vocab).ToArray();
        double max = last.Max(), logSum = Math.Log(last.Sum(v => Math.Exp(v - max))) + max;
        int firstId = fx.Generate(prompt, 1).Ids[0];
        tokens[0].LogProbability.Should().BeApproximately((float)(last[firstId] - logSum), 2e-3f);
        tokens.Should().HaveCount(completion.Usage.OutputTokenCount - (completion.FinishReason == ChatFinishReason.Stop ? 1 : 0));
        string.Concat(tokens.Select(t => t.Token)).Should().Be(completion.Content[0].Text);
        foreach (var t in tokens)
        {
            t.LogProbability.Should().BeLessThanOrEqualTo(0);
            t.TopLogProbabilities.Should().HaveCount(3);
            // Greedy: the chosen token is the most likely one.
            t.TopLogProbabilities[0].LogProbability.Should().BeApproximately(t.LogProbability, 1e-4f);
            t.TopLogProbabilities.Select(a => a.LogProbability).Should().BeInDescendingOrder();
        }
    }

    [Fact]
    public async Task AdapterIsListedAndChangesTheAnswer()
    {
        var models = (await fx.Client().GetOpenAIModelClient().GetModelsAsync()).Value;
        models.Select(m => m.Id).Should().BeEquivalentTo([fx.Server.ModelName, ServerFixture.Adapter]);
        models.Should().OnlyContain(m => m.OwnedBy == "purellama");
        var client = fx.Client();
        string baseText = (await client.GetChatClient(fx.Server.ModelName).CompleteChatAsync([new UserChatMessage(Question)], Greedy(12))).Value.Content[0].Text;
        var adapted = (await client.GetChatClient(ServerFixture.Adapter).CompleteChatAsync([new UserChatMessage(Question)], Greedy(12))).Value;
        adapted.Model.Should().Be(ServerFixture.Adapter);
        adapted.Content[0].Text.Should().NotBe(baseText, "the adapter's B matrices are random, so its logits differ");
    }

    [Fact]
    public async Task ConcurrentStreamsEachEqualGenerate()
    {
        string[] questions = ["Which book comes after Genesis?", "How many chapters does Exodus have?", "In which testament is Ruth?",
                              "Which book comes before Psalms?", "Is Jonah in the Old Testament or the New Testament?", "Which book follows Acts?"];
        var expected = questions.Select(q => fx.Generate(fx.ChatPrompt(q), 20).Text).ToArray();
        var client = fx.Client();
        var texts = await Task.WhenAll(questions.Select(async q =>
        {
            var text = new System.Text.StringBuilder();
            await foreach (var u in client.GetChatClient(fx.Server.ModelName).CompleteChatStreamingAsync([new UserChatMessage(q)], Greedy(20)))
                foreach (var part in u.ContentUpdate) text.Append(part.Text);
            return text.ToString();
        }));
        texts.Should().Equal(expected);
        (await fx.WaitIdleAsync()).Running.Should().Be(0);
    }

    [Fact]
    public async Task CancelledStreamFreesItsSequence()
    {
        var before = await fx.WaitIdleAsync();
        using var slow = fx.SlowEngine();
        using var cts = new CancellationTokenSource();
        int maxTokens = 480 - fx.ChatPrompt(Question).Length;
        // Cancel as soon as the engine runs the sequence (the demo model decodes faster than a loaded client reads,
        // so waiting for updates on the client side could let the request finish first).
        var cancelWhenRunning = Task.Run(async () =>
        {
            while (fx.Engine.Metrics.Running == 0 && !cts.IsCancellationRequested) await Task.Delay(1);
            cts.Cancel();
        });
        var act = async () =>
        {
            await foreach (var u in fx.Client().GetChatClient(fx.Server.ModelName).CompleteChatStreamingAsync(
                               [new UserChatMessage(Question)], new ChatCompletionOptions { Temperature = 1, Seed = 1, MaxOutputTokenCount = maxTokens }, cts.Token))
                u.FinishReason.Should().BeNull("the stream is cancelled before its end");
        };
        await act.Should().ThrowAsync<OperationCanceledException>();
        await cancelWhenRunning;
        var after = await fx.WaitIdleAsync();
        after.Running.Should().Be(0);
        after.Waiting.Should().Be(0);
        after.KvBlocksUsed.Should().Be(0, "no sequence holds a block any more (cached prefix blocks count as free)");
        (after.KvBlocksUsed + after.KvBlocksFree).Should().Be(before.KvBlocksUsed + before.KvBlocksFree);
        (after.GeneratedTokens - before.GeneratedTokens).Should().BeLessThan(maxTokens, "the stream was cut before its end");
        var metrics = await fx.Http().GetStringAsync("metrics");
        metrics.Should().Contain("\npurellama_requests_running 0\n");
    }

    [Fact]
    public async Task DisconnectedWholeRequestFreesItsSequence()
    {
        var before = await fx.WaitIdleAsync();
        int maxTokens = 480 - fx.ChatPrompt(Question).Length;
        using var slow = fx.SlowEngine();
        using var http = fx.Http();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        var act = () => http.PostAsync("v1/chat/completions", Protocol.Body(
            $$"""{"messages":[{"role":"user","content":"{{Question}}"}],"max_tokens":{{maxTokens}},"temperature":1,"seed":4}"""), cts.Token);
        await act.Should().ThrowAsync<OperationCanceledException>();
        var after = await fx.WaitIdleAsync();
        after.Running.Should().Be(0);
        after.Waiting.Should().Be(0);
        after.KvBlocksUsed.Should().Be(0);
        (after.GeneratedTokens - before.GeneratedTokens).Should().BeLessThan(maxTokens, "the request was cut when its client went away");
    }
}
