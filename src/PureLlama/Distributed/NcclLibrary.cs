using System.Runtime.InteropServices;

namespace PureLlama.Distributed;

/// <summary>
/// NCCL (<c>libnccl.so.2</c>), loaded at run time with <see cref="NativeLibrary"/> and called through function pointers,
/// like <see cref="MpiLibrary"/>: nothing is needed unless a multi-GPU run asks for it.
/// </summary>
internal sealed unsafe class NcclLibrary : INcclApi
{
    /// <summary>What to install when the library is missing.</summary>
    public const string InstallHint = "Install NCCL (the libnccl2 package from NVIDIA's CUDA repository, or pip's nvidia-nccl-cu12 with its lib folder on LD_LIBRARY_PATH).";

    private const int UniqueIdBytes = 128;

    [StructLayout(LayoutKind.Sequential, Size = UniqueIdBytes)]
    private struct UniqueId { private byte _first; }

    private readonly delegate* unmanaged<UniqueId*, int> _getUniqueId;
    private readonly delegate* unmanaged<nint*, int, UniqueId, int, int> _commInitRank;
    private readonly delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> _allReduce;
    private readonly delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> _broadcast;
    private readonly delegate* unmanaged<nint, int> _commDestroy;
    private readonly delegate* unmanaged<int, nint> _errorString;

    private NcclLibrary(nint handle)
    {
        nint Sym(string name) => NativeLibrary.TryGetExport(handle, name, out var p) ? p
            : throw new DistributedException($"libnccl.so.2 has no symbol '{name}' (NCCL 2.10 or newer is needed). {InstallHint}");
        _getUniqueId = (delegate* unmanaged<UniqueId*, int>)Sym("ncclGetUniqueId");
        _commInitRank = (delegate* unmanaged<nint*, int, UniqueId, int, int>)Sym("ncclCommInitRank");
        _allReduce = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Sym("ncclAllReduce");
        _broadcast = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Sym("ncclBroadcast");
        _commDestroy = (delegate* unmanaged<nint, int>)Sym("ncclCommDestroy");
        _errorString = (delegate* unmanaged<int, nint>)Sym("ncclGetErrorString");
        var getVersion = (delegate* unmanaged<int*, int>)Sym("ncclGetVersion");
        int v = 0;
        Check(getVersion(&v), "ncclGetVersion");
        Version = v >= 10000 ? $"NCCL {v / 10000}.{v / 100 % 100}.{v % 100}" : $"NCCL {v / 1000}.{v / 100 % 10}.{v % 100}";
    }

    /// <summary>Loads libnccl.so.2 (a clear error naming what to install when it is missing).</summary>
    public static NcclLibrary Load()
    {
        foreach (var name in new[] { "libnccl.so.2", "libnccl.so" })
            if (NativeLibrary.TryLoad(name, out var handle)) return new NcclLibrary(handle);
        throw new DistributedException($"NCCL's libnccl.so.2 was not found. {InstallHint}");
    }

    public string Version { get; }

    public byte[] GetUniqueId()
    {
        UniqueId id;
        Check(_getUniqueId(&id), "ncclGetUniqueId");
        return new ReadOnlySpan<byte>(&id, UniqueIdBytes).ToArray();
    }

    public nint CommInitRank(int ranks, byte[] uniqueId, int rank)
    {
        if (uniqueId.Length != UniqueIdBytes) throw new ArgumentException($"An NCCL unique id has {UniqueIdBytes} bytes, not {uniqueId.Length}.", nameof(uniqueId));
        UniqueId id;
        uniqueId.CopyTo(new Span<byte>(&id, UniqueIdBytes));
        nint comm;
        Check(_commInitRank(&comm, ranks, id, rank), "ncclCommInitRank");
        return comm;
    }

    public void AllReduce(nint send, nint receive, long count, NcclDataType type, NcclReduceOp op, nint comm, nint stream) =>
        Check(_allReduce(send, receive, (nuint)count, (int)type, (int)op, comm, stream), "ncclAllReduce");

    public void Broadcast(nint send, nint receive, long count, NcclDataType type, int root, nint comm, nint stream) =>
        Check(_broadcast(send, receive, (nuint)count, (int)type, root, comm, stream), "ncclBroadcast");

    public void CommDestroy(nint comm) => Check(_commDestroy(comm), "ncclCommDestroy");

    private void Check(int result, string call)
    {
        if (result != 0) throw new DistributedException($"{call} failed: NCCL error {result} ({Marshal.PtrToStringUTF8(_errorString(result))}).");
    }
}
