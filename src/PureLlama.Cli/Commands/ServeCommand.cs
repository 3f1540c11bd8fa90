using System.CommandLine;
using PureLlama.Server;
using PureLlama.Serving;

namespace PureLlama.Cli.Commands;

/// <summary><c>purellama serve</c>: an OpenAI-compatible HTTP server (chat, completions, models, health, metrics) on the serving engine.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new ModelCliOptions();
        var host = new Option<string>("--host") { Description = "address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0: a free one)", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = "require Authorization: Bearer KEY on /v1/* (default: $PURELLAMA_API_KEY, else no key)" };
        var name = new Option<string?>("--served-model-name") { Description = "the base model's id in the API (default: the model folder's name)" };
        var lora = new Option<string[]>("--lora") { Description = "a LoRA adapter served beside the base: name=DIR (PEFT folder; repeatable); requests pick it with \"model\": name", AllowMultipleArgumentsPerToken = false };
        var kvMemory = new Option<string?>("--kv-memory") { Description = "KV cache budget, e.g. 512MiB or 2GB (default 256MiB)" };
        var kvCache = new Option<string>("--kv-cache") { Description = "KV cache storage: f32 (default, exact) | bf16 (half) | int8 (a quarter, scale per position and head)", DefaultValueFactory = _ => "f32" };
        var blockSize = new Option<int?>("--block-size") { Description = "positions per KV block (default 16)" };
        var maxBatchTokens = new Option<int?>("--max-batch-tokens") { Description = "most tokens per engine step; longer prompts are prefilled in chunks (default 512)" };
        var maxRunning = new Option<int?>("--max-running") { Description = "most sequences in the running batch (default 32)" };
        var maxWaiting = new Option<int?>("--max-waiting") { Description = "most requests queued by the engine; beyond it requests get 429 (default 256)" };
        var noPrefixCache = new Option<bool>("--no-prefix-cache") { Description = "do not share KV blocks between requests with the same prompt prefix" };
        var maxConcurrent = new Option<int>("--max-concurrent") { Description = "generation requests the HTTP server handles at once; more get 429", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "largest max_tokens a request may ask for, and the default (default: what the context leaves)" };
        var maxBody = new Option<string>("--max-body") { Description = "largest request body (default 4MiB; larger: 413)", DefaultValueFactory = _ => "4MiB" };
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API (continuous batching, paged KV cache, prefix caching, LoRA per request).");
        foreach (var o in new Option[] { model.Model, model.Device, model.Loading, model.Context, model.Quantize, model.QuantizeLmHead, model.LmHeadFormat,
                     host, port, apiKey, name, lora, kvMemory, kvCache, blockSize, maxBatchTokens, maxRunning, maxWaiting, noPrefixCache,
                     maxConcurrent, maxTokens, maxBody })
            command.Options.Add(o);
        command.SetAction(parse => ModelCliOptions.Guard(() =>
        {
            var engineOptions = new ServingOptions
            {
                KvCacheType = ParseKvCache(parse.GetValue(kvCache)),
                Adapters = ParseAdapters(parse.GetValue(lora) ?? []),
                PrefixCaching = !parse.GetValue(noPrefixCache),
            };
            if (parse.GetValue(kvMemory) is { } kv) engineOptions = engineOptions with { KvMemoryBytes = QuantizeCommand.ParseSize(kv, "--kv-memory") };
            if (parse.GetValue(blockSize) is int b) engineOptions = engineOptions with { BlockSize = b };
            if (parse.GetValue(maxBatchTokens) is int t) engineOptions = engineOptions with { MaxBatchTokens = t };
            if (parse.GetValue(maxRunning) is int r) engineOptions = engineOptions with { MaxRunningSequences = r };
            if (parse.GetValue(maxWaiting) is int w) engineOptions = engineOptions with { MaxWaitingRequests = w };
            engineOptions.Validate();
            var serverOptions = new ServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey) ?? (Environment.GetEnvironmentVariable("PURELLAMA_API_KEY") is { Length: > 0 } k ? k : null),
                ModelName = parse.GetValue(name),
                MaxConcurrentRequests = parse.GetValue(maxConcurrent),
                MaxTokensLimit = parse.GetValue(maxTokens),
                MaxBodyBytes = QuantizeCommand.ParseSize(parse.GetValue(maxBody)!, "--max-body"),
            };
            serverOptions.Validate();
            return Run(model, parse, engineOptions, serverOptions);
        }));
        return command;
    }

    private static int Run(ModelCliOptions model, ParseResult parse, ServingOptions engineOptions, ServerOptions serverOptions)
    {
        using var runtime = model.LoadWeights(parse);
        using var engine = ServingEngine.Start(runtime, engineOptions);
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var server = LlamaServer.StartAsync(engine, serverOptions, stop.Token).GetAwaiter().GetResult();
            try
            {
                Console.Error.WriteLine($"{runtime.Config.DescribeShape()} on {runtime.Model.Device}; context {engine.MaxContextTokens} tokens; " +
                                        $"KV {engineOptions.KvCacheType}, {engineOptions.KvMemoryBytes / 1048576.0:F0} MiB");
                string adapters = engine.AdapterNames.Count == 0 ? "" : $" (adapters: {string.Join(", ", engine.AdapterNames)})";
                Console.Error.WriteLine($"serving '{server.ModelName}'{adapters} at {server.Address}v1 " +
                                        $"{(serverOptions.ApiKey is null ? "without an API key" : "with an API key")}; Ctrl+C stops");
                server.WaitForShutdownAsync(stop.Token).GetAwaiter().GetResult();
            }
            finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
        }
        finally { Console.CancelKeyPress -= onCancel; }
        return 0;
    }

    internal static KvCacheType ParseKvCache(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "f32" or null => KvCacheType.F32,
        "bf16" => KvCacheType.BF16,
        "int8" => KvCacheType.Int8,
        var other => throw new ArgumentException($"--kv-cache must be f32, bf16 or int8, not '{other}'."),
    };

    /// <summary>--lora values "name=DIR" into a map; a missing '=', an empty side or a repeated name is an error naming the entry.</summary>
    internal static Dictionary<string, string> ParseAdapters(IEnumerable<string> values)
    {
        var adapters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in values)
        {
            int eq = v.IndexOf('=');
            if (eq <= 0 || eq == v.Length - 1) throw new ArgumentException($"--lora '{v}' must be name=DIR (a PEFT adapter folder).");
            string adapterName = v[..eq].Trim(), dir = v[(eq + 1)..].Trim();
            if (!adapters.TryAdd(adapterName, dir)) throw new ArgumentException($"--lora names '{adapterName}' twice.");
        }
        return adapters;
    }
}
