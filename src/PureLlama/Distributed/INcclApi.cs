namespace PureLlama.Distributed;

/// <summary>NCCL's element types (ncclDataType_t values).</summary>
internal enum NcclDataType { Float32 = 7, Float64 = 8, BFloat16 = 9 }

/// <summary>NCCL's reductions (ncclRedOp_t values).</summary>
internal enum NcclReduceOp { Sum = 0, Average = 4 }

/// <summary>
/// The part of NCCL's C API the communicator calls: the real library (<see cref="NcclLibrary"/>) or, in tests, a fake
/// that moves host memory between in-process ranks. Pointers are device pointers on the caller's CUDA stream.
/// </summary>
internal interface INcclApi
{
    /// <summary>"NCCL 2.21.5".</summary>
    string Version { get; }

    /// <summary>ncclGetUniqueId: the 128-byte id rank 0 makes and every rank joins with.</summary>
    byte[] GetUniqueId();

    /// <summary>ncclCommInitRank: this rank's communicator handle.</summary>
    nint CommInitRank(int ranks, byte[] uniqueId, int rank);

    /// <summary>ncclAllReduce (in place when send = receive).</summary>
    void AllReduce(nint send, nint receive, long count, NcclDataType type, NcclReduceOp op, nint comm, nint stream);

    /// <summary>ncclBroadcast from <paramref name="root"/>.</summary>
    void Broadcast(nint send, nint receive, long count, NcclDataType type, int root, nint comm, nint stream);

    /// <summary>ncclCommDestroy.</summary>
    void CommDestroy(nint comm);
}
