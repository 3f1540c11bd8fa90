using PureLlama.Llama;
using PureLlama.Serving;

namespace PureLlama.Server;

/// <summary>What one choice has produced so far: its text, token count, finish reason and (when asked) per-token logprobs.</summary>
internal sealed class ChoiceOutput(int promptTokens)
{
    public System.Text.StringBuilder Text { get; } = new();
    public List<EngineToken> LogprobTokens { get; } = [];
    public int Tokens { get; private set; }
    public StopReason? Finish { get; private set; }
    public int PromptTokens { get; } = promptTokens;
    public int CachedPromptTokens { get; private set; }

    public void Add(EngineToken t, bool keepLogprobs)
    {
        Tokens++;
        Text.Append(t.Text);
        CachedPromptTokens = t.CachedPromptTokens;
        if (t.Finish is { } f) Finish = f;
        if (keepLogprobs && HasLogprob(t)) LogprobTokens.Add(t);
    }

    /// <summary>A token that appears in logprobs: every generated token but a final stop token (EOS is not part of the text).</summary>
    public static bool HasLogprob(EngineToken t) => t.Finish != StopReason.StopToken;

    public string? FinishReason => ServingRequests.FinishReason(Finish);
}
