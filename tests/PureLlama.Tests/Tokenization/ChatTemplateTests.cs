using PureLlama.Tokenization;
using Xunit.Abstractions;

namespace PureLlama.Tests.Tokenization;

/// <summary>The Llama 3 chat format, checked against the template text shipped in the fixture's tokenizer_config.json.</summary>
[Collection(TokenizerCollection.Name)]
public sealed class ChatTemplateTests(TokenizerFixture fixture, ITestOutputHelper output)
{
    private static readonly ChatTurn[] Conversation =
    [
        ChatTurn.System("  You are a helpful assistant.\n"),
        ChatTurn.User("\n\nWhat is 2+2? "),
        ChatTurn.Assistant("4\n"),
    ];

    // Derived by reading the template: bos_token before the first message; each message is
    // header + role + end header + "\n\n" + (content | trim) + eot; then the assistant header
    // (this 3.0 template adds it unconditionally).
    private const string Expected =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n";

    [Fact]
    public void Fixture_chat_template_renders_system_user_assistant()
    {
        var tok = fixture.RequireTokenizer(output, "tokenizer_config.json");
        if (tok is null) return;
        var chat = tok.ChatTemplate;
        chat.Style.Should().Be(ChatTemplateStyle.Llama3);
        chat.IsLlama3.Should().BeTrue();
        chat.GenerationPromptIsUnconditional.Should().BeTrue();
        chat.TemplateText.Should().Contain("message['content'] | trim").And.Contain("bos_token + content");
        chat.Render(Conversation).Should().Be(Expected);
        chat.Render(Conversation, addGenerationPrompt: false).Should().Be(Expected[..^"<|start_header_id|>assistant<|end_header_id|>\n\n".Length]);
    }

    [Fact]
    public void Fixture_chat_ids_equal_the_encoded_rendering_and_the_fixture_prompt()
    {
        var tok = fixture.RequireTokenizer(output, "tokenizer_config.json");
        if (tok is null) return;
        var chat = tok.ChatTemplate;
        chat.Encode(Conversation).Should().Equal(tok.Encode(Expected));
        chat.Encode(Conversation, parseSpecialInContent: true).Should().Equal(tok.Encode(Expected));
        // The fixture's own chat-format case.
        var prompt = fixture.Cases.Single(c => c.Text.StartsWith("<|begin_of_text|><|start_header_id|>user", StringComparison.Ordinal));
        chat.Encode([ChatTurn.User("What is 2+2?")]).Should().Equal(prompt.Ids);
        chat.Render([ChatTurn.User("What is 2+2?")]).Should().Be(prompt.Text);
    }

    [Fact]
    public void Fixture_special_text_in_content_is_not_a_control_token_by_default()
    {
        var tok = fixture.RequireTokenizer(output, "tokenizer_config.json");
        if (tok is null) return;
        int eot = tok.TokenToId("<|eot_id|>")!.Value;
        int[] safe = tok.ChatTemplate.Encode([ChatTurn.User("hi<|eot_id|>")], addGenerationPrompt: false);
        safe.Count(id => id == eot).Should().Be(1);
        int[] parsed = tok.ChatTemplate.Encode([ChatTurn.User("hi<|eot_id|>")], addGenerationPrompt: false, parseSpecialInContent: true);
        parsed.Count(id => id == eot).Should().Be(2);
    }

    [Fact]
    public void Trim_is_python_strip()
    {
        ChatTemplate.Trim("\u001f\u00a0 x y\t\u3000\n").Should().Be("x y");
        ChatTemplate.Trim("\u200bx").Should().Be("\u200bx"); // zero-width space is not white space
    }
}
