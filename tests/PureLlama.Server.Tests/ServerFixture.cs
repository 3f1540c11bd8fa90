using System.ClientModel;
using System.ClientModel.Primitives;
using System.Runtime.InteropServices;
using OpenAI;
using PureLlama.Tests.Shared;
using PureLlama.Llama;
using PureLlama.Server;
using PureLlama.Serving;
using PureLlama.Tokenization;
using PureLlama.Training;

namespace PureLlama.Server.Tests;

/// <summary>
/// One serving engine over the demo model (models/demo: 4 layers, context 512) with a LoRA adapter "bible-lora", and
/// a server on 127.0.0.1 (a free port) requiring an API key; a second runtime of the same model computes the
/// expected tokens with <see cref="LlamaRuntime.Generate(int[], SamplingOptions?, CancellationToken)"/> (what
/// <c>purellama generate</c> runs), so nothing the server says is compared with itself.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ApiKey = "test-key-7f3a";
    public const string Adapter = "bible-lora";

    private readonly string _adapterDir = Path.Combine(Path.GetTempPath(), "purellama-serve-adapter-" + Guid.NewGuid().ToString("N"));
    private readonly SemaphoreSlim _referenceLock = new(1, 1);

    public string ModelDir { get; } = RepoPaths.DemoModel;
    public LlamaRuntime Runtime { get; private set; } = null!;
    public LlamaRuntime Reference { get; private set; } = null!;
    public ServingEngine Engine { get; private set; } = null!;
    public LlamaServer Server { get; private set; } = null!;
    public ChatTemplate Template => Reference.Tokenizer!.ChatTemplate;

    public async Task InitializeAsync()
    {
        WriteAdapter(_adapterDir);
        Runtime = LlamaRuntime.Load(ModelDir);
        Reference = LlamaRuntime.Load(ModelDir);
        Engine = ServingEngine.Start(Runtime, new ServingOptions
        {
            KvMemoryBytes = 16L << 20,
            Adapters = new Dictionary<string, string> { [Adapter] = _adapterDir },
        });
        Server = await LlamaServer.StartAsync(Engine, new ServerOptions { Port = 0, ApiKey = ApiKey });
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Engine.Dispose();
        Runtime.Dispose();
        Reference.Dispose();
        if (Directory.Exists(_adapterDir)) Directory.Delete(_adapterDir, recursive: true);
    }

    /// <summary>A LoRA adapter of the demo model whose B matrices are random (a fresh one, B = 0, would not change the output).</summary>
    private void WriteAdapter(string dir)
    {
        using var model = LlamaRuntime.Load(ModelDir);
        using var lora = LoraAdapter.Attach(model.Model, new LoraConfig { R = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj"] }, seed: 7);
        var rng = new Random(11);
        foreach (var p in lora.Parameters.Where(p => p.Name.Contains("lora_B", StringComparison.Ordinal)))
        {
            var values = new float[p.Value.Numel];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;
            p.Value.Backend.CopyFromHost(MemoryMarshal.AsBytes(values.AsSpan()), p.Value);
        }
        lora.Save(dir);
    }

    /// <summary>The OpenAI client on this server (no retries: a 429 must reach the test).</summary>
    public OpenAIClient Client(string? key = ApiKey) => ClientFor(Server, key);

    /// <summary>The OpenAI client on any server (no retries).</summary>
    public static OpenAIClient ClientFor(LlamaServer server, string? key) => new(new ApiKeyCredential(key ?? "none"), new OpenAIClientOptions
    {
        Endpoint = new Uri(server.Address, "v1"),
        RetryPolicy = new ClientRetryPolicy(0),
        NetworkTimeout = TimeSpan.FromSeconds(60),
    });

    public HttpClient Http(string? key = ApiKey)
    {
        var http = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return http;
    }

    /// <summary>The chat prompt ids of one user message, as the server renders it.</summary>
    public int[] ChatPrompt(string user) => Template.Encode([ChatTurn.User(user)]);

    /// <summary>Greedy continuation by the reference runtime (the base model; <paramref name="tweak"/> changes other settings): ids and text, stop token excluded from the text.</summary>
    public (int[] Ids, string Text, StopReason Stop) Generate(int[] prompt, int maxNewTokens, IReadOnlyList<string>? stop = null,
        Func<SamplingOptions, SamplingOptions>? tweak = null)
    {
        _referenceLock.Wait();
        try
        {
            var ids = new List<int>();
            var text = new System.Text.StringBuilder();
            var options = Reference.DefaultSampling with { Temperature = 0, MaxNewTokens = maxNewTokens, StopStrings = stop ?? [] };
            if (tweak is not null) options = tweak(options);
            foreach (var t in Reference.Generate(prompt, options)) { ids.Add(t.Id); text.Append(t.Text); }
            return ([.. ids], text.ToString(), Reference.LastStats!.StopReason);
        }
        finally { _referenceLock.Release(); }
    }

    /// <summary>The reference runtime's logits of every position of <paramref name="ids"/> ([T, vocab]).</summary>
    public float[] ReferenceLogits(int[] ids)
    {
        _referenceLock.Wait();
        try { return Reference.Logits(ids); }
        finally { _referenceLock.Release(); }
    }

    /// <summary>Polls the engine until no sequence runs or waits (a cancelled request has been freed), up to 10 s.</summary>
    /// <summary>Makes every engine step last at least 20 ms until disposed, so that a long request outlives a client's
    /// cancellation even on a loaded machine (tests of one collection run one at a time, so no other test is slowed).</summary>
    public IDisposable SlowEngine()
    {
        Engine.AfterForwardStep = () => Thread.Sleep(20);
        return new Restore(() => Engine.AfterForwardStep = null);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    public async Task<EngineMetrics> WaitIdleAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var m = Engine.Metrics;
            if (m.Running == 0 && m.Waiting == 0 || DateTime.UtcNow > deadline) return m;
            await Task.Delay(20);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "demo server";
}
