using PureLlama.Tensors;

namespace PureLlama.Distributed;

/// <summary>Where a tensor's bytes are for NCCL: a device pointer and the CUDA stream its work is queued on.</summary>
internal interface IDeviceMemory
{
    /// <summary>The device address of the tensor's first element and the stream to queue collectives on; false for host tensors.</summary>
    bool TryLocate(Tensor tensor, out nint pointer, out nint stream);

    /// <summary>Waits until the work queued on the tensor's stream has finished.</summary>
    void Synchronize(Tensor tensor);
}

/// <summary>
/// Collectives of GPU tensors over NCCL, one rank per GPU, bootstrapped by another communicator (MPI) as llm.c does:
/// rank 0 creates NCCL's unique id and broadcasts it, every rank joins with ncclCommInitRank. Tensors on the device go
/// through NCCL on the tensors' own CUDA stream (no host copy); host values (losses, counts) and barriers go through
/// the bootstrap communicator, which also provides the collective timeouts.
/// </summary>
public sealed class NcclCommunicator : ICommunicator
{
    private readonly ICommunicator _bootstrap;
    private readonly INcclApi _nccl;
    private readonly IDeviceMemory _memory;
    private readonly bool _ownsBootstrap;
    private nint _comm;

    internal NcclCommunicator(ICommunicator bootstrap, INcclApi nccl, IDeviceMemory memory, bool ownsBootstrap = false)
    {
        _ownsBootstrap = ownsBootstrap;
        _bootstrap = bootstrap ?? throw new ArgumentNullException(nameof(bootstrap));
        _nccl = nccl;
        _memory = memory;
        byte[] id = bootstrap.Rank == 0 ? nccl.GetUniqueId() : new byte[128];
        if (id.Length != 128) throw new DistributedException($"NCCL gave a unique id of {id.Length} bytes; 128 were expected.");
        bootstrap.Broadcast(id, root: 0);
        _comm = nccl.CommInitRank(bootstrap.Size, id, bootstrap.Rank);
        Description = $"{nccl.Version} over {bootstrap.Description}";
    }

    /// <summary>
    /// NCCL over <paramref name="bootstrap"/> (MPI) for tensors on the CUDA backend's device; with
    /// <paramref name="ownsBootstrap"/> disposing this communicator disposes the bootstrap too.
    /// </summary>
    public static NcclCommunicator Create(ICommunicator bootstrap, bool ownsBootstrap = false) =>
        new(bootstrap, NcclLibrary.Load(), new CudaDeviceMemory(), ownsBootstrap);

    /// <inheritdoc/>
    public int Rank => _bootstrap.Rank;
    /// <inheritdoc/>
    public int Size => _bootstrap.Size;
    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public void AllReduce(Tensor buffer, ReduceOp op = ReduceOp.Sum)
    {
        CollectiveChecks.Reducible(buffer);
        if (!_memory.TryLocate(buffer, out var pointer, out var stream)) { _bootstrap.AllReduce(buffer, op); return; }
        var type = buffer.DType == DType.BF16 ? NcclDataType.BFloat16 : NcclDataType.Float32;
        _nccl.AllReduce(pointer, pointer, buffer.Numel, type, op == ReduceOp.Average ? NcclReduceOp.Average : NcclReduceOp.Sum, Live(), stream);
        _memory.Synchronize(buffer);
    }

    /// <inheritdoc/>
    public void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum) => _bootstrap.AllReduce(values, op);

    /// <inheritdoc/>
    public void Broadcast(Span<byte> buffer, int root = 0) => _bootstrap.Broadcast(buffer, root);

    /// <inheritdoc/>
    public void Broadcast(Tensor buffer, int root = 0)
    {
        CollectiveChecks.Root(root, Size);
        if (!buffer.IsContiguous) throw new ArgumentException("A broadcast buffer must be contiguous.", nameof(buffer));
        if (!_memory.TryLocate(buffer, out var pointer, out var stream)) { _bootstrap.Broadcast(buffer, root); return; }
        // Bytes as F32 words when they divide evenly, else BF16 halves: NCCL moves them untouched either way.
        bool words = buffer.ByteLength % 4 == 0;
        _nccl.Broadcast(pointer, pointer, buffer.ByteLength / (words ? 4 : 2), words ? NcclDataType.Float32 : NcclDataType.BFloat16, root, Live(), stream);
        _memory.Synchronize(buffer);
    }

    /// <inheritdoc/>
    public void Barrier() => _bootstrap.Barrier();

    private nint Live() => _comm != 0 ? _comm : throw new ObjectDisposedException(nameof(NcclCommunicator));

    /// <summary>Destroys the NCCL communicator (and the bootstrap when this communicator owns it).</summary>
    public void Dispose()
    {
        if (_comm == 0) return;
        _nccl.CommDestroy(_comm);
        _comm = 0;
        if (_ownsBootstrap) _bootstrap.Dispose();
    }
}
