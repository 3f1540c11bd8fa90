using System.CommandLine;
using PureLlama.Llama;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama generate</c>: stream a continuation of a prompt, then prefill/decode speed and peak memory.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new ModelCliOptions();
        var sampling = new SamplingCliOptions();
        var prompt = new Option<string?>("--prompt") { Description = "prompt text (BOS is added)" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "prompt as comma-separated token ids, used as given (for models without a tokenizer)" };
        var printIds = new Option<bool>("--print-ids") { Description = "also print the generated token ids" };
        var chat = new Option<bool>("--chat") { Description = "wrap --prompt as one user turn in the model's chat template (with the assistant header), as chat does" };
        var system = new Option<string?>("--system") { Description = "with --chat: a system turn before the user turn" };
        var command = new Command("generate", "Generate a continuation of a prompt, streaming tokens as they are produced.");
        model.AddTo(command);
        command.Options.Add(prompt); command.Options.Add(promptIds); command.Options.Add(printIds); command.Options.Add(chat); command.Options.Add(system);
        sampling.AddTo(command);
        command.SetAction(parse => ModelCliOptions.Guard(() =>
            Run(parse, model, sampling, parse.GetValue(prompt), parse.GetValue(promptIds), parse.GetValue(printIds), parse.GetValue(chat), parse.GetValue(system))));
        return command;
    }

    /// <summary>Parses "1,250, 252" into ids, naming the bad entry.</summary>
    /// <summary>The ids of --prompt-ids, each checked against a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public static int[] ParseIds(string text, int vocabSize)
    {
        var ids = ParseIds(text);
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocabSize) throw new ArgumentException($"--prompt-ids entry {i} ({ids[i]}) is outside the model's vocabulary [0, {vocabSize}).");
        return ids;
    }

    public static int[] ParseIds(string text)
    {
        var parts = text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out ids[i])) throw new ArgumentException($"--prompt-ids entry {i} ('{parts[i]}') is not an integer token id.");
        if (ids.Length == 0) throw new ArgumentException("--prompt-ids holds no token id: the prompt is empty.");
        return ids;
    }

    private static int Run(ParseResult parse, ModelCliOptions modelOptions, SamplingCliOptions samplingOptions, string? prompt, string? promptIds, bool printIds,
        bool chat, string? system)
    {
        if (prompt is null == promptIds is null) throw new ArgumentException("Give exactly one of --prompt TEXT or --prompt-ids 1,250,….");
        if (prompt is { Length: 0 }) throw new ArgumentException("The prompt is empty.");
        if (chat && prompt is null) throw new ArgumentException("--chat wraps --prompt TEXT in the chat template; it does not apply to --prompt-ids.");
        if (system is not null && !chat) throw new ArgumentException("--system applies with --chat only.");
        using var llama = modelOptions.Load(parse);
        var options = samplingOptions.Resolve(parse, llama.DefaultSampling);
        int[] ids = promptIds is not null ? ParseIds(promptIds, llama.Config.VocabSize) : chat ? ChatPrompt(llama, system, prompt!) : llama.Encode(prompt!);
        Console.Error.WriteLine($"{llama.Config.DescribeShape()} on {llama.Model.Device}; prompt {ids.Length} tokens; {Describe(options)}");
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        var generated = new List<int>();
        try
        {
            if (prompt is not null && !chat) Console.Write(prompt);
            foreach (var t in llama.Generate(ids, options, cts.Token))
            {
                generated.Add(t.Id);
                if (llama.Tokenizer is null) Console.Write(generated.Count == 1 ? $"{t.Id}" : $",{t.Id}");
                else Console.Write(t.Text);
                Console.Out.Flush();
            }
        }
        finally { Console.CancelKeyPress -= onCancel; }
        Console.WriteLine();
        if (printIds) Console.WriteLine($"ids: {string.Join(",", generated)}");
        Console.Error.WriteLine(llama.LastStats);
        return 0;
    }

    // The prompt as the model's chat template renders a (system and) user turn, ending with the assistant header.
    private static int[] ChatPrompt(LlamaRuntime llama, string? system, string prompt)
    {
        var tok = llama.Tokenizer ?? throw new ArgumentException($"--chat needs the model's tokenizer; '{llama.Directory}' has no tokenizer.json.");
        var turns = new List<Tokenization.ChatTurn>();
        if (system is not null) turns.Add(Tokenization.ChatTurn.System(system));
        turns.Add(Tokenization.ChatTurn.User(prompt));
        return tok.ChatTemplate.Encode(turns, addGenerationPrompt: true);
    }

    internal static string Describe(SamplingOptions o) => o.IsGreedy
        ? $"greedy, max {o.MaxNewTokens} new tokens"
        : $"temperature {o.Temperature}, top-k {o.TopK}, top-p {o.TopP}, min-p {o.MinP}, repetition penalty {o.RepetitionPenalty}, seed {(o.Seed is { } s ? s : "random")}, max {o.MaxNewTokens} new tokens";
}
