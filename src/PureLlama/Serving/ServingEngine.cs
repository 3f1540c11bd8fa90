using System.Runtime.CompilerServices;
using PureLlama.Llama;

namespace PureLlama.Serving;

/// <summary>
/// Continuous batching over one <see cref="LlamaRuntime"/>: a background scheduler that, at every step,
/// admits waiting requests, prefills prompts in chunks and decodes every running sequence in one forward
/// (each projection one matmul over all rows), over a paged KV cache with prefix sharing. Requests join
/// with <see cref="Generate"/> and stream their tokens back. Thread-safe; dispose it to stop the loop
/// (the runtime stays the caller's).
/// </summary>
public sealed partial class ServingEngine : IDisposable
{
    private readonly object _gate = new();
    private readonly LinkedList<EngineSequence> _waiting = new();    // under _gate
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _loop;
    private readonly CancellationTokenSource _stop = new();
    private long _nextId;
    private volatile bool _disposed;

    private ServingEngine(LlamaRuntime runtime, ServingOptions options, EngineAdapters adapters)
    {
        Runtime = runtime; Options = options; _adapters = adapters;
        MaxContextTokens = runtime.ContextLength;
        _cache = new PagedKvCache(runtime.Model, options);
        _pool = new BlockPool(_cache.Blocks, options.BlockSize);
        _loop = new Thread(Loop) { IsBackground = true, Name = "PureLlama serving scheduler" };
    }

    /// <summary>Starts an engine over <paramref name="runtime"/> (loading the options' adapters); its scheduler runs until disposed.</summary>
    public static ServingEngine Start(LlamaRuntime runtime, ServingOptions options)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var adapters = EngineAdapters.Load(runtime.Model, options.Adapters);
        ServingEngine? engine = null;
        try
        {
            engine = new ServingEngine(runtime, options, adapters);
            engine._loop.Start();
            return engine;
        }
        catch
        {
            if (engine is not null) engine.Dispose(); else adapters.Dispose();
            throw;
        }
    }

    /// <summary>The model, tokenizer and generation defaults served.</summary>
    public LlamaRuntime Runtime { get; }
    /// <summary>The settings the engine runs with.</summary>
    public ServingOptions Options { get; }
    /// <summary>Names of the LoRA adapters a request may ask for.</summary>
    public IReadOnlyList<string> AdapterNames => _adapters.Names;
    /// <summary>Positions per sequence (prompt + generated).</summary>
    public int MaxContextTokens { get; }

    /// <summary>
    /// Queues <paramref name="request"/> and streams its tokens. Throws at once: <see cref="ArgumentException"/>
    /// naming the field for a bad request, <see cref="ServingOverloadedException"/> when the waiting queue is full.
    /// Cancelling <paramref name="cancellation"/> or disposing the enumerator ends the sequence and frees its blocks.
    /// Enumerate the result (or cancel): the request runs from this call on.
    /// </summary>
    public IAsyncEnumerable<EngineToken> Generate(EngineRequest request, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var seq = CreateSequence(request);
        lock (_gate)
        {
            if (_waiting.Count >= Options.MaxWaitingRequests)
                throw new ServingOverloadedException($"The engine's waiting queue is full ({Options.MaxWaitingRequests} requests): retry later.");
            _waiting.AddLast(seq);
        }
        _wake.Release();
        return Read(seq, cancellation);
    }

    private EngineSequence CreateSequence(EngineRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.PromptIds is not { Length: > 0 } prompt) throw new ArgumentException("The prompt is empty: give at least one token.", nameof(request.PromptIds));
        if (prompt.Length >= MaxContextTokens)
            throw new ArgumentException($"The prompt has {prompt.Length} tokens; the context holds {MaxContextTokens} positions, leaving no room to generate.", nameof(request.PromptIds));
        try { Runtime.Model.CheckIds(prompt); }
        catch (ArgumentException e) { throw new ArgumentException(e.Message, nameof(request.PromptIds)); }
        var sampling = request.Sampling ?? throw new ArgumentException("Sampling options are missing.", nameof(request.Sampling));
        try { sampling.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException(e.Message, nameof(request.Sampling)); }
        if (sampling.StopStrings.Count > 0 && Runtime.Tokenizer is null)
            throw new ArgumentException("Stop strings need a tokenizer to decode the text; this model has none (use stop token ids).", nameof(request.Sampling));
        if (request.TopLogprobs is < 0 or > 20) throw new ArgumentException($"TopLogprobs must be in [0, 20], got {request.TopLogprobs}.", nameof(request.TopLogprobs));
        int adapter = -1;
        if (request.Adapter is { } name)
        {
            adapter = _adapters.IndexOf(name);
            if (adapter < 0) throw new ArgumentException($"Unknown adapter '{name}': this engine serves {(AdapterNames.Count == 0 ? "no adapters" : string.Join(", ", AdapterNames))}.", nameof(request.Adapter));
        }
        var sampler = new Sampler(sampling, Runtime.Model.VocabSize);
        sampler.Observe(prompt);
        var emitter = new TokenTextEmitter(Runtime.Tokenizer, sampling, Runtime.StopIdsFor(sampling));
        int limit = (int)Math.Min(MaxContextTokens, (long)_pool.Total * _pool.BlockSize);
        if (prompt.Length >= limit)
            throw new ArgumentException($"The prompt has {prompt.Length} tokens; the KV memory holds {limit} positions in all ({_pool.Total} blocks of {_pool.BlockSize}), leaving no room to generate.", nameof(request.PromptIds));
        return new EngineSequence(Interlocked.Increment(ref _nextId), request, adapter, sampler, emitter, limit);
    }

    private async IAsyncEnumerable<EngineToken> Read(EngineSequence seq, [EnumeratorCancellation] CancellationToken cancellation)
    {
        using var registration = cancellation.Register(() => Cancel(seq));
        try
        {
            await foreach (var token in seq.Output.Reader.ReadAllAsync(cancellation).ConfigureAwait(false))
                yield return token;
        }
        finally
        {
            Cancel(seq);
        }
    }

    private void Cancel(EngineSequence seq)
    {
        if (seq.Cancelled) return;
        seq.Cancelled = true;
        if (!_disposed) _wake.Release();
    }

    /// <summary>A snapshot of the load and totals.</summary>
    public EngineMetrics Metrics
    {
        get
        {
            lock (_gate) return _published with { Waiting = _waiting.Count };
        }
    }

    /// <summary>Stops the scheduler, ends every stream (their readers see <see cref="ObjectDisposedException"/>) and frees the KV cache and adapters.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        _wake.Release();
        if (_loop.IsAlive && Thread.CurrentThread != _loop) _loop.Join();
        lock (_gate)
        {
            foreach (var seq in _waiting) seq.Output.Writer.TryComplete(new ObjectDisposedException(nameof(ServingEngine)));
            _waiting.Clear();
        }
        foreach (var seq in _running) seq.Output.Writer.TryComplete(new ObjectDisposedException(nameof(ServingEngine)));
        _running.Clear();
        _cache.Dispose();
        _adapters.Dispose();
        _stop.Dispose();
    }
}
