using PureLlama.Llama;
using PureLlama.Tensors;
using PureLlama.Tests.Tokenization;
using PureLlama.Tokenization;
using Xunit.Abstractions;

namespace PureLlama.Tests.Llama;

/// <summary>
/// Text generation and multi-turn chat with the real Llama 3 tokenizer (shared/fixtures/llama3-tokenizer)
/// on a tiny random model with the full 128256-token vocabulary.
/// </summary>
public class LlamaChatFixtureTests(ITestOutputHelper output) : IClassFixture<TokenizerFixture>
{
    private readonly TokenizerFixture _fixture = new();

    private static LlamaRuntime TinyRandom(Llama3Tokenizer tokenizer)
    {
        var config = new LlamaConfig
        {
            VocabSize = 128256, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, HeadDim = 8, RmsNormEps = 1e-5, RopeTheta = 500000, TieWordEmbeddings = true,
            MaxPositionEmbeddings = 1024, BosTokenId = 128000, EosTokenIds = [128001],
        };
        var rng = new Rng(3);
        var model = LlamaModel.Build(config, Device.Cpu, (name, shape) =>
            shape.Rank == 1 ? Tensor.Ones(shape) : Tensor.RandN(shape, rng, 0.3f));
        return LlamaRuntime.FromModel(model, tokenizer, contextLength: 512);
    }

    [Fact]
    public void Fixture_chat_keeps_history_in_the_cache_and_matches_a_fresh_generation()
    {
        var tokenizer = _fixture.RequireTokenizer(output);
        if (tokenizer is null) return;
        using var llama = TinyRandom(tokenizer);
        var options = new SamplingOptions { MaxNewTokens = 8 };
        using var chat = llama.StartChat("You are terse.");
        string first = string.Concat(chat.Send("Hello there", options).Select(t => t.Text));
        int afterFirst = chat.CachedTokens;
        afterFirst.Should().BeGreaterThan(10);

        var reply = chat.Send("And again?", options).ToList();
        var conversation = tokenizer.ChatTemplate.Encode(chat.Messages.Take(chat.Messages.Count - 1), addGenerationPrompt: true);
        chat.LastPrefillTokens.Should().BeLessThan(conversation.Length - 10, "only the new turn is prefilled");
        output.WriteLine($"turn 1: '{first}'; turn 2 prefilled {chat.LastPrefillTokens} of {conversation.Length} tokens");

        // the same reply from scratch over the whole conversation
        var fresh = llama.Generate(conversation, options).Select(t => t.Id).ToArray();
        reply.Select(t => t.Id).Should().Equal(fresh);
        chat.Messages.Should().HaveCount(5);
        chat.Messages[^1].Role.Should().Be("assistant");
    }

    [Fact]
    public void Fixture_text_generation_streams_text_that_decodes_the_ids_and_honours_stop_strings()
    {
        var tokenizer = _fixture.RequireTokenizer(output);
        if (tokenizer is null) return;
        using var llama = TinyRandom(tokenizer);
        var tokens = llama.Generate("The capital of France is", new SamplingOptions { MaxNewTokens = 12, StopTokenIds = [] }).ToList();
        tokens.Should().HaveCount(12);
        string.Concat(tokens.Select(t => t.Text)).Should().Be(tokenizer.Decode(tokens.Select(t => t.Id).ToArray(), skipSpecial: true));
        llama.Encode("The capital")[0].Should().Be(128000, "BOS is prepended");

        // a stop string taken from the middle of that text ends generation right before it
        string text = string.Concat(tokens.Select(t => t.Text));
        if (text.Length >= 6)
        {
            string stop = text.Substring(text.Length / 2, 3);
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            var cut = llama.Generate("The capital of France is", new SamplingOptions { MaxNewTokens = 12, StopTokenIds = [], StopStrings = [stop] }).ToList();
            string.Concat(cut.Select(t => t.Text)).Should().Be(text[..at]);
            llama.LastStats!.StopReason.Should().Be(StopReason.StopString);
        }
        llama.Invoking(l => l.Generate("")).Should().Throw<ArgumentException>().WithMessage("*empty*");
    }
}
