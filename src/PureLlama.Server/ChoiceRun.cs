using System.Threading.Channels;
using PureLlama.Serving;

namespace PureLlama.Server;

/// <summary>
/// The engine requests of one HTTP request (its choices: n per prompt), run at once and merged into one stream of
/// (choice, token) in arrival order. The first failure of any choice cancels the others and is thrown to the reader;
/// the client going away (<c>aborted</c>) or disposing the run cancels every choice, which frees their sequences.
/// </summary>
internal sealed class ChoiceRun : IAsyncDisposable
{
    public readonly record struct Item(int Choice, EngineToken Token);

    private readonly Channel<Item> _channel = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _cts;
    private readonly Task[] _tasks;
    private int _remaining;

    public ChoiceRun(ServingEngine engine, IReadOnlyList<EngineRequest> requests, CancellationToken aborted)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _remaining = requests.Count;
        _tasks = new Task[requests.Count];
        for (int i = 0; i < requests.Count; i++) _tasks[i] = RunAsync(engine, requests[i], i);
    }

    public ChannelReader<Item> Reader => _channel.Reader;

    /// <summary>Waits for the first token of any choice (or the end); a failure before it (overload, bad request) is thrown here.</summary>
    public async Task<bool> WaitForFirstAsync(CancellationToken ct)
    {
        try { return await _channel.Reader.WaitToReadAsync(ct); }
        catch (ChannelClosedException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    /// <summary>Every (choice, token) until all choices end; a choice's failure is thrown (unwrapped).</summary>
    public async IAsyncEnumerable<Item> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        while (await WaitForFirstAsync(ct))
            while (_channel.Reader.TryRead(out var item)) yield return item;
    }

    private async Task RunAsync(ServingEngine engine, EngineRequest request, int choice)
    {
        try
        {
            await Task.Yield();
            await foreach (var t in engine.Generate(request, _cts.Token).WithCancellation(_cts.Token))
                _channel.Writer.TryWrite(new Item(choice, t));
            if (Interlocked.Decrement(ref _remaining) == 0) _channel.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _channel.Writer.TryComplete(e); // the first error wins; the siblings' cancellations come after it
            try { _cts.Cancel(); } catch (ObjectDisposedException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        await Task.WhenAll(_tasks); // RunAsync catches everything
        _channel.Writer.TryComplete();
        _cts.Dispose();
    }
}
