using System.CommandLine;
using System.Globalization;
using PureLlama.Calibration;
using PureLlama.Llama;

namespace PureLlama.Cli.Commands;

/// <summary>
/// <c>purellama eval --model DIR --data FILE [--context N --stride S] [--max-tokens N]</c>: perplexity of a text
/// (plain, or JSONL with a "text" field) with Hugging Face's strided sliding window (<see cref="Perplexity"/>),
/// for any format the model loads in (dense, NF4, INT8, GPTQ, AWQ, or --quantize on load).
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new ModelCliOptions();
        model.Context.Description = "window length in tokens (default: 2048, or the model's context if smaller)";
        var data = new Option<string>("--data") { Description = "text file, or JSONL with a \"text\" field per line (records joined by blank lines)", Required = true };
        var stride = new Option<int?>("--stride") { Description = "window step in tokens (default: the context, i.e. disjoint windows); each window scores only tokens no earlier window scored" };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "score only the first N tokens of the text" };
        var noBos = new Option<bool>("--no-bos") { Description = "do not put BOS before the text" };
        var command = new Command("eval", "Perplexity of a text with a sliding window (--context window length, default 2048 or the model's limit).");
        model.AddTo(command);
        command.Options.Add(data); command.Options.Add(stride); command.Options.Add(maxTokens); command.Options.Add(noBos);
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            using var llama = model.Load(parse);
            var tokenizer = llama.Tokenizer ?? throw new ArgumentException($"'{parse.GetValue(model.Model)}' has no tokenizer.json; eval needs one to tokenize --data.");
            var ids = tokenizer.Encode(TextFile.ReadAll(parse.GetValue(data)!), addBos: !parse.GetValue(noBos) && tokenizer.BosId is not null, parseSpecial: false);
            if (parse.GetValue(maxTokens) is int max)
            {
                if (max < 2) throw new ArgumentException($"--max-tokens must be at least 2, got {max}.");
                if (ids.Length > max) ids = ids[..max];
            }
            int context = parse.GetValue(model.Context) ?? Math.Min(llama.ContextLength, 2048);
            var result = Perplexity.Evaluate(llama.Model, ids, context, parse.GetValue(stride),
                Console.IsErrorRedirected ? null : (done, total) => Console.Error.Write($"\rscored {done}/{total - 1} tokens"));
            if (!Console.IsErrorRedirected) Console.Error.WriteLine();
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(c, $"model {llama.Directory} ({Describe(llama.Model)}), {llama.Model.WeightBytes / 1e6:F1} MB of weights"));
            Console.WriteLine(string.Create(c, $"context {context}, stride {parse.GetValue(stride) ?? context}, {result.Windows} window(s), {ids.Length} tokens"));
            Console.WriteLine(string.Create(c, $"tokens scored: {result.TokensScored}"));
            Console.WriteLine(string.Create(c, $"mean NLL: {result.MeanNll:F4} nats"));
            Console.WriteLine(string.Create(c, $"perplexity: {result.Perplexity:F4}"));
            Console.WriteLine(string.Create(c, $"tokens/s: {result.TokensPerSecond:F1} ({result.TokensProcessed} tokens through the model in {result.Elapsed.TotalSeconds:F1} s)"));
            return 0;
        }));
        return command;
    }

    private static string Describe(LlamaModel model)
    {
        var kinds = model.NamedLinears().Where(x => x.Name != "lm_head")
            .Select(x => x.Linear is Nn.QuantLinear q ? q.Weight.Format.ToString() : x.Linear is Nn.Linear d ? d.Weight.DType.ToString() : x.Linear.GetType().Name)
            .Distinct();
        return "projections " + string.Join("/", kinds);
    }
}
