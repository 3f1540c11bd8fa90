using System.Text.Json;

namespace PureLlama.Server;

/// <summary>
/// OpenAI's usage object. Prompt tokens count once per distinct prompt (not once per choice), as OpenAI bills them;
/// cached_tokens are the prompt tokens whose keys and values came from the prefix cache (the first choice of each prompt).
/// </summary>
internal static class Usage
{
    public static void Write(Utf8JsonWriter w, IReadOnlyList<ChoiceOutput> choices, int choicesPerPrompt)
    {
        long prompt = 0, cached = 0, completion = 0;
        for (int i = 0; i < choices.Count; i++)
        {
            completion += choices[i].Tokens;
            if (i % choicesPerPrompt != 0) continue;
            prompt += choices[i].PromptTokens;
            cached += choices[i].CachedPromptTokens;
        }
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", cached);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
