using System.Text;

namespace PureLlama.Tokenization;

/// <summary>One turn of a conversation.</summary>
/// <param name="Role">system, user, assistant (ipython/tool are passed through).</param>
/// <param name="Content">The text of the turn.</param>
public sealed record ChatTurn(string Role, string Content)
{
    /// <summary>A system message.</summary>
    public static ChatTurn System(string content) => new("system", content);
    /// <summary>A user message.</summary>
    public static ChatTurn User(string content) => new("user", content);
    /// <summary>An assistant message.</summary>
    public static ChatTurn Assistant(string content) => new("assistant", content);
}

/// <summary>Which chat format <c>tokenizer_config.json</c> describes, as recognised from its template text.</summary>
public enum ChatTemplateStyle
{
    /// <summary>The Llama 3 (3.0) instruct template: header, trimmed content, <c>&lt;|eot_id|&gt;</c> per message; BOS before the first.</summary>
    Llama3,
    /// <summary>The Llama 3.1+ template: always a system turn that starts with the knowledge-cutoff and date lines (tools are not rendered).</summary>
    Llama31,
    /// <summary>A template that is not a Llama 3 one; the Llama 3 format is used anyway, and callers should warn.</summary>
    NotLlama3,
    /// <summary>No chat template was given; the Llama 3 format is used.</summary>
    Missing,
}

/// <summary>
/// The Llama 3 / 3.1 instruct chat format, rendered in code rather than by a Jinja engine:
/// <c>&lt;|begin_of_text|&gt;</c>, then per message
/// <c>&lt;|start_header_id|&gt;{role}&lt;|end_header_id|&gt;\n\n{content trimmed}&lt;|eot_id|&gt;</c>,
/// then optionally the generation prompt <c>&lt;|start_header_id|&gt;assistant&lt;|end_header_id|&gt;\n\n</c>.
/// Trimming is Jinja's <c>trim</c> filter (Python's <c>str.strip()</c>).
/// </summary>
public sealed class ChatTemplate
{
    private const string StartHeader = "<|start_header_id|>";
    private const string EndHeader = "<|end_header_id|>";
    private const string Eot = "<|eot_id|>";
    private readonly Llama3Tokenizer _tokenizer;

    internal ChatTemplate(Llama3Tokenizer tokenizer, string? templateText)
    {
        _tokenizer = tokenizer;
        TemplateText = templateText;
        Style = Recognise(templateText);
        GenerationPromptIsUnconditional = Style == ChatTemplateStyle.Llama3 && !templateText!.Contains("add_generation_prompt", StringComparison.Ordinal);
    }

    /// <summary>The template text from tokenizer_config.json, or null.</summary>
    public string? TemplateText { get; }
    /// <summary>The recognised format.</summary>
    public ChatTemplateStyle Style { get; }
    /// <summary>True when the template is a Llama 3 one (3.0 or 3.1+); otherwise callers should warn that the Llama 3 format is assumed.</summary>
    public bool IsLlama3 => Style is ChatTemplateStyle.Llama3 or ChatTemplateStyle.Llama31;
    /// <summary>
    /// True when the file's template appends the assistant header whatever <c>add_generation_prompt</c> says
    /// (some Llama 3.0 files do). <see cref="Render"/> follows its argument; pass true to match such a template.
    /// </summary>
    public bool GenerationPromptIsUnconditional { get; }
    /// <summary>The "Today Date" line of the 3.1 system turn (the template's own default).</summary>
    public string DateString { get; set; } = "26 Jul 2024";

    /// <summary>Renders a conversation as text, special tokens written out.</summary>
    /// <param name="messages">The turns, in order.</param>
    /// <param name="addGenerationPrompt">Append the assistant header so the model writes the next turn.</param>
    public string Render(IEnumerable<ChatTurn> messages, bool addGenerationPrompt = true)
    {
        var sb = new StringBuilder();
        foreach (var (text, _, _) in Segments(messages, addGenerationPrompt)) sb.Append(text);
        return sb.ToString();
    }

    /// <summary>Renders and encodes a conversation.</summary>
    /// <param name="messages">The turns, in order.</param>
    /// <param name="addGenerationPrompt">Append the assistant header so the model writes the next turn.</param>
    /// <param name="parseSpecialInContent">
    /// When false (the default) special-token text inside message content stays plain text, so a user cannot
    /// inject <c>&lt;|eot_id|&gt;</c>; when true the result equals encoding <see cref="Render"/>'s text, as Hugging Face does.
    /// </param>
    public int[] Encode(IEnumerable<ChatTurn> messages, bool addGenerationPrompt = true, bool parseSpecialInContent = false) =>
        Encode(messages, addGenerationPrompt, parseSpecialInContent, out _);

    /// <summary>
    /// Renders and encodes a conversation like <see cref="Encode(IEnumerable{ChatTurn}, bool, bool)"/> and says which
    /// message each token belongs to (for training masks).
    /// </summary>
    /// <param name="messages">The turns, in order.</param>
    /// <param name="addGenerationPrompt">Append the assistant header so the model writes the next turn.</param>
    /// <param name="parseSpecialInContent">Parse special-token text inside message content (see the other overload).</param>
    /// <param name="tokenMessage">
    /// Per token [ids.Length]: the index in <paramref name="messages"/> of the message whose trimmed content or closing
    /// <c>&lt;|eot_id|&gt;</c> the token is, or −1 for BOS, role headers, the 3.1 preamble and the generation prompt.
    /// </param>
    public int[] Encode(IEnumerable<ChatTurn> messages, bool addGenerationPrompt, bool parseSpecialInContent, out int[] tokenMessage)
    {
        var ids = new List<int>();
        var owner = new List<int>();
        foreach (var (text, isContent, message) in Segments(messages, addGenerationPrompt))
        {
            _tokenizer.Encode(text, ids, parseSpecial: !isContent || parseSpecialInContent);
            while (owner.Count < ids.Count) owner.Add(message);
        }
        tokenMessage = owner.ToArray();
        return ids.ToArray();
    }

    // The rendered text as pieces; content pieces are flagged so they can be encoded without special parsing.
    // Message: the index of the message a content piece or closing eot belongs to, else -1.
    private List<(string Text, bool IsContent, int Message)> Segments(IEnumerable<ChatTurn> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is null || string.IsNullOrEmpty(list[i].Role) || list[i].Content is null)
                throw new ArgumentException($"message {i} needs a role and content", nameof(messages));
        }
        string bos = _tokenizer.BosToken ?? "";
        var seg = new List<(string, bool, int)>();
        if (Style == ChatTemplateStyle.Llama31)
        {
            seg.Add((bos, false, -1));
            string system = "";
            int systemIndex = -1, first = 0;
            if (list.Count > 0 && list[0].Role == "system") { system = Trim(list[0].Content); systemIndex = 0; first = 1; }
            seg.Add(($"{StartHeader}system{EndHeader}\n\nCutting Knowledge Date: December 2023\nToday Date: {DateString}\n\n", false, -1));
            seg.Add((system, true, systemIndex));
            seg.Add((Eot, false, systemIndex));
            for (int i = first; i < list.Count; i++)
            {
                var m = list[i];
                bool tool = m.Role is "ipython" or "tool";
                seg.Add(($"{StartHeader}{(tool ? "ipython" : m.Role)}{EndHeader}\n\n", false, -1));
                seg.Add((tool ? m.Content : Trim(m.Content), true, i)); // the 3.1 template does not trim tool output
                seg.Add((Eot, false, i));
            }
        }
        else
        {
            for (int i = 0; i < list.Count; i++)
            {
                seg.Add(((i == 0 ? bos : "") + $"{StartHeader}{list[i].Role}{EndHeader}\n\n", false, -1));
                seg.Add((Trim(list[i].Content), true, i));
                seg.Add((Eot, false, i));
            }
        }
        if (addGenerationPrompt) seg.Add(($"{StartHeader}assistant{EndHeader}\n\n", false, -1));
        seg.RemoveAll(s => s.Item1.Length == 0);
        return seg;
    }

    /// <summary>Jinja's <c>trim</c>: Python's <c>str.strip()</c>, which also strips U+001C..U+001F.</summary>
    public static string Trim(string text) => text.Trim(PythonWhiteSpace);

    private static readonly char[] PythonWhiteSpace = Enumerable.Range(0, 0x3001)
        .Where(c => char.IsWhiteSpace((char)c) || c is >= 0x1C and <= 0x1F).Select(c => (char)c).ToArray();

    private static ChatTemplateStyle Recognise(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return ChatTemplateStyle.Missing;
        bool headers = text.Contains(StartHeader, StringComparison.Ordinal) && text.Contains(EndHeader, StringComparison.Ordinal)
                       && text.Contains(Eot, StringComparison.Ordinal);
        if (!headers) return ChatTemplateStyle.NotLlama3;
        return text.Contains("Cutting Knowledge Date", StringComparison.Ordinal) ? ChatTemplateStyle.Llama31 : ChatTemplateStyle.Llama3;
    }
}
