using System.Text.Json;

namespace PureLlama.Server.Tests;

/// <summary>/v1/completions and the chat fields the typed client has no option for (n), sent through the OpenAI client's pipeline.</summary>
[Collection(ServerCollection.Name)]
public sealed class CompletionsTests(ServerFixture fx)
{
    private const string Prompt = "In the beginning God created";

    [Fact]
    public async Task CompletionEqualsGenerate()
    {
        var expected = fx.Generate(fx.Reference.Encode(Prompt), 12);
        var (status, body) = await Protocol.PostAsync(fx.Client(), fx.Server.Address, "v1/completions",
            $$"""{"model":"{{fx.Server.ModelName}}","prompt":"{{Prompt}}","max_tokens":12,"temperature":0}""");
        status.Should().Be(200, body);
        var json = Protocol.Json(body);
        json.GetProperty("object").GetString().Should().Be("text_completion");
        json.GetProperty("id").GetString().Should().StartWith("cmpl-");
        var choice = json.GetProperty("choices").EnumerateArray().Should().ContainSingle().Subject;
        choice.GetProperty("text").GetString().Should().Be(expected.Text);
        choice.GetProperty("finish_reason").GetString().Should().Be("length");
        json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(fx.Reference.Encode(Prompt).Length);
        json.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().Be(12);
    }

    [Fact]
    public async Task TokenIdPromptsAndStreamingWithUsage()
    {
        int[] ids = fx.Reference.Encode(Prompt);
        var expected = fx.Generate(ids, 10);
        var (status, body) = await Protocol.PostAsync(fx.Client(), fx.Server.Address, "v1/completions",
            $$"""{"prompt":[{{string.Join(",", ids)}}],"max_tokens":10,"temperature":0,"stream":true,"stream_options":{"include_usage":true},"logprobs":2}""");
        status.Should().Be(200, body);
        var (events, done) = Protocol.ParseSse(body);
        done.Should().BeTrue();
        events.Should().OnlyContain(e => e.GetProperty("object").GetString() == "text_completion");
        var choices = events.SelectMany(e => e.GetProperty("choices").EnumerateArray()).ToList();
        string.Concat(choices.Select(c => c.GetProperty("text").GetString())).Should().Be(expected.Text);
        choices.Last().GetProperty("finish_reason").GetString().Should().Be("length");
        var logprobs = choices.Where(c => c.GetProperty("logprobs").ValueKind == JsonValueKind.Object).Select(c => c.GetProperty("logprobs")).ToList();
        logprobs.Should().HaveCount(10);
        logprobs.Should().OnlyContain(l => l.GetProperty("top_logprobs")[0].EnumerateObject().Count() >= 1);
        var usage = events.Last().GetProperty("usage");
        events.Last().GetProperty("choices").GetArrayLength().Should().Be(0);
        usage.GetProperty("prompt_tokens").GetInt32().Should().Be(ids.Length);
        usage.GetProperty("completion_tokens").GetInt32().Should().Be(10);
        events.SkipLast(1).Should().OnlyContain(e => e.GetProperty("usage").ValueKind == JsonValueKind.Null);
    }

    [Fact]
    public async Task SeveralPromptsAndChoices()
    {
        string[] prompts = [Prompt, "And the LORD spake unto Moses"];
        var expected = prompts.Select(p => fx.Generate(fx.Reference.Encode(p), 6).Text).ToArray();
        var (status, body) = await Protocol.PostAsync(fx.Client(), fx.Server.Address, "v1/completions",
            JsonSerializer.Serialize(new { prompt = prompts, max_tokens = 6, temperature = 0, n = 2 }));
        status.Should().Be(200, body);
        var choices = Protocol.Json(body).GetProperty("choices").EnumerateArray().ToList();
        choices.Select(c => c.GetProperty("index").GetInt32()).Should().Equal(0, 1, 2, 3);
        choices.Select(c => c.GetProperty("text").GetString()).Should().Equal(expected[0], expected[0], expected[1], expected[1]);
        var usage = Protocol.Json(body).GetProperty("usage");
        usage.GetProperty("prompt_tokens").GetInt32().Should().Be(prompts.Sum(p => fx.Reference.Encode(p).Length), "each prompt counts once");
        usage.GetProperty("completion_tokens").GetInt32().Should().Be(4 * 6);
    }

    [Fact]
    public async Task ChatWithNChoicesAndARepeatedPromptReportsCachedTokens()
    {
        string system = string.Concat(Enumerable.Repeat("You answer questions about the books of the Bible in one short sentence. ", 6));
        string json = JsonSerializer.Serialize(new
        {
            messages = new object[] { new { role = "system", content = system }, new { role = "user", content = "Which book comes after Genesis?" } },
            max_tokens = 6, temperature = 0.8, seed = 3, n = 3,
        });
        var (status, first) = await Protocol.PostAsync(fx.Client(), fx.Server.Address, "v1/chat/completions", json);
        status.Should().Be(200, first);
        Protocol.Json(first).GetProperty("choices").GetArrayLength().Should().Be(3);
        var (_, second) = await Protocol.PostAsync(fx.Client(), fx.Server.Address, "v1/chat/completions", json);
        var usage = Protocol.Json(second).GetProperty("usage");
        int prompt = usage.GetProperty("prompt_tokens").GetInt32();
        usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32().Should().BeGreaterThanOrEqualTo(prompt / 16 * 16 - 16,
            "the same prompt again is served from the prefix cache (full blocks)");
        Protocol.Json(second).GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("message").GetProperty("content").GetString())
            .Should().Equal(Protocol.Json(first).GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("message").GetProperty("content").GetString()),
                "seeded choices repeat");
    }

    [Fact]
    public async Task StreamingChatWithTwoChoicesInterleavesThem()
    {
        const string question = "Which book comes after Genesis?";
        var expected = fx.Generate(fx.ChatPrompt(question), 8).Text;
        var (status, body) = await Protocol.PostAsync(fx.Client(), fx.Server.Address, "v1/chat/completions", JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = question } }, max_tokens = 8, temperature = 0, n = 2, stream = true,
        }));
        status.Should().Be(200, body);
        var (events, done) = Protocol.ParseSse(body);
        done.Should().BeTrue();
        events.Should().OnlyContain(e => e.GetProperty("object").GetString() == "chat.completion.chunk");
        events.Select(e => e.GetProperty("id").GetString()).Distinct().Should().ContainSingle("every chunk of one response has its id");
        var choices = events.SelectMany(e => e.GetProperty("choices").EnumerateArray()).ToList();
        for (int i = 0; i < 2; i++)
        {
            var mine = choices.Where(c => c.GetProperty("index").GetInt32() == i).ToList();
            mine.First().GetProperty("delta").GetProperty("role").GetString().Should().Be("assistant");
            string.Concat(mine.Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : "")).Should().Be(expected);
            mine.Last().GetProperty("finish_reason").GetString().Should().Be("length");
            mine.SkipLast(1).Should().OnlyContain(c => c.GetProperty("finish_reason").ValueKind == JsonValueKind.Null);
        }
    }

    [Fact]
    public async Task HealthAndMetrics()
    {
        using var http = fx.Http(key: null);
        (await http.GetStringAsync("health")).Should().Contain("\"ok\"");
        var response = await http.GetAsync("metrics");
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        string text = await response.Content.ReadAsStringAsync();
        foreach (var name in new[] { "purellama_requests_running", "purellama_requests_waiting", "purellama_prompt_tokens_total",
                     "purellama_generation_tokens_total", "purellama_kv_blocks_used", "purellama_kv_blocks_free", "purellama_prefix_cache_hit_tokens_total" })
            text.Should().MatchRegex($"# TYPE {name} (gauge|counter)\n{name} [0-9]+\n");
    }
}
