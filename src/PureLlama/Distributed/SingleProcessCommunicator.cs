using PureLlama.Tensors;

namespace PureLlama.Distributed;

/// <summary>The communicator of a plain process: rank 0 of 1; every collective leaves the buffers as they are.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The one instance.</summary>
    public static SingleProcessCommunicator Instance { get; } = new();

    private SingleProcessCommunicator() { }

    /// <inheritdoc/>
    public int Rank => 0;
    /// <inheritdoc/>
    public int Size => 1;
    /// <inheritdoc/>
    public string Description => "single process";
    /// <inheritdoc/>
    public void AllReduce(Tensor buffer, ReduceOp op = ReduceOp.Sum) => CollectiveChecks.Reducible(buffer);
    /// <inheritdoc/>
    public void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum) { }
    /// <inheritdoc/>
    public void Broadcast(Span<byte> buffer, int root = 0) => CollectiveChecks.Root(root, 1);
    /// <inheritdoc/>
    public void Broadcast(Tensor buffer, int root = 0) => CollectiveChecks.Root(root, 1);
    /// <inheritdoc/>
    public void Barrier() { }
    /// <inheritdoc/>
    public void Dispose() { }
}
