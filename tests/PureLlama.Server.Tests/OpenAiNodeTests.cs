using System.Text.Json;
using PureLlama.Tests.Shared;

namespace PureLlama.Server.Tests;

/// <summary>
/// OpenAI's official Node SDK (npm <c>openai</c>, pinned in tests/openai-node, installed by .ci/run) against the same
/// server: models, chat whole and streamed (raw chunks and the SDK's own stream helper), logprobs, an adapter,
/// completions and the error cases an application branches on — each compared with the reference runtime's greedy
/// generation, so a second client implementation parses every response shape the .NET client does.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class OpenAiNodeTests(ServerFixture fx)
{
    private const string Question = "Which book comes after Genesis?";
    private const int MaxTokens = 12;

    [Fact]
    public void NodeSdkSeesWhatGenerateProduces()
    {
        var script = NodeScript.Find("openai-node", "check.mjs", "openai", "OpenAI's Node SDK");
        string stdout = script.Run([new Uri(fx.Server.Address, "v1").ToString(), ServerFixture.ApiKey, fx.Server.ModelName, ServerFixture.Adapter,
                                    Question, MaxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(3));
        using var doc = JsonDocument.Parse(stdout);
        var r = doc.RootElement;
        var expected = fx.Generate(fx.ChatPrompt(Question), MaxTokens);
        int promptTokens = fx.ChatPrompt(Question).Length;

        r.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()).Should().Contain([fx.Server.ModelName, ServerFixture.Adapter]);

        var chat = r.GetProperty("chat");
        chat.GetProperty("text").GetString().Should().Be(expected.Text);
        chat.GetProperty("role").GetString().Should().Be("assistant");
        chat.GetProperty("object").GetString().Should().Be("chat.completion");
        chat.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(promptTokens);
        chat.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().Be(expected.Ids.Length);

        var stream = r.GetProperty("stream");
        stream.GetProperty("text").GetString().Should().Be(expected.Text);
        stream.GetProperty("chunks").GetInt32().Should().BeGreaterThan(2);
        stream.GetProperty("finish_reason").GetString().Should().Be(chat.GetProperty("finish_reason").GetString());
        stream.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().Be(expected.Ids.Length);
        r.GetProperty("streamHelper").GetString().Should().Be(expected.Text);

        var logprobs = r.GetProperty("logprobs").EnumerateArray().ToList();
        logprobs.Should().HaveCount(4);
        logprobs.Should().OnlyContain(t => t.GetProperty("logprob").GetDouble() <= 0 && t.GetProperty("top").GetInt32() == 3);

        var adapter = r.GetProperty("adapter");
        adapter.GetProperty("model").GetString().Should().Be(ServerFixture.Adapter);
        adapter.GetProperty("text").GetString().Should().NotBeNullOrEmpty();

        var completion = r.GetProperty("completion");
        var expectedCompletion = fx.Generate(fx.Reference.Encode("In the beginning"), MaxTokens);
        completion.GetProperty("text").GetString().Should().Be(expectedCompletion.Text);

        var errors = r.GetProperty("errors");
        void Error(string name, int status, string? param)
        {
            var e = errors.GetProperty(name);
            e.GetProperty("status").GetInt32().Should().Be(status, name);
            if (param is not null) e.GetProperty("param").GetString().Should().Be(param, name);
            e.GetProperty("message").GetString().Should().NotContain("Exception", name);
        }
        Error("unknownModel", 404, "model");
        Error("badParameter", 400, "temperature");
        Error("noMessages", 400, "messages");
        Error("tooLong", 400, null);
        Error("wrongKey", 401, null);
    }
}
