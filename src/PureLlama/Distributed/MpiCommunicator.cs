using System.Diagnostics;
using System.Runtime.InteropServices;
using PureLlama.Tensors;

namespace PureLlama.Distributed;

/// <summary>
/// Collectives over Open MPI (launch with <c>mpirun -np N purellama …</c>). An all-reduce is a reduce to rank 0
/// followed by a broadcast, so every rank receives the same bits (MPI's own all-reduce may add in a different order
/// on different ranks). Every collective is non-blocking underneath and polled against a deadline: a rank that does
/// not arrive within <see cref="CollectiveTimeout"/> ends the whole job (MPI_Abort) with a message naming it — rank 0
/// tracks which collective each peer has reached from a small message each rank sends as it enters one.
/// A rank that dies is reported by mpirun itself ("process rank N … exited on signal …"), which then stops the others.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const int ArrivalTag = 0x5EED;
    private const int MaxChunk = 1 << 28;   // MPI counts are int: larger buffers go in chunks
    private readonly MpiLibrary _mpi;
    private readonly bool _ownsInit;
    private readonly ArrivalTracker _arrivals;
    private long _sequence;
    private bool _disposed;

    private MpiCommunicator(MpiLibrary mpi, bool ownsInit, TimeSpan timeout)
    {
        _mpi = mpi;
        _ownsInit = ownsInit;
        CollectiveTimeout = timeout;
        int rank, size;
        mpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        int major, minor, sub = 0;
        mpi.Check(mpi.GetVersion(&major, &minor, &sub), "MPI_Get_version");
        Description = $"MPI {major}.{minor} (Open MPI), {size} ranks";
        _arrivals = new ArrivalTracker(mpi, rank, size, ArrivalTag);
    }

    /// <summary>Initializes MPI (once per process) and returns the world communicator.</summary>
    /// <param name="collectiveTimeout">How long a collective may wait for the other ranks before the job is aborted.</param>
    public static MpiCommunicator Initialize(TimeSpan collectiveTimeout)
    {
        if (collectiveTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(collectiveTimeout), "The collective timeout must be positive.");
        var mpi = MpiLibrary.Load();
        int initialized;
        mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0) mpi.Check(mpi.Init(null, null), "MPI_Init");
        return new MpiCommunicator(mpi, initialized == 0, collectiveTimeout);
    }

    /// <inheritdoc/>
    public int Rank { get; }
    /// <inheritdoc/>
    public int Size { get; }
    /// <inheritdoc/>
    public string Description { get; }

    /// <summary>How long one collective may wait for the others.</summary>
    public TimeSpan CollectiveTimeout { get; }

    /// <summary>Seconds spent inside collectives so far (waiting included).</summary>
    public double CollectiveSeconds { get; private set; }

    /// <inheritdoc/>
    public void AllReduce(Tensor buffer, ReduceOp op = ReduceOp.Sum)
    {
        CollectiveChecks.Reducible(buffer);
        HostCollectives.AllReduceTensor(buffer, op, Size, values => AllReduceFloats(values));
    }

    /// <inheritdoc/>
    public void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum)
    {
        fixed (double* p = values) ReduceThenBroadcast((nint)p, values.Length, _mpi.Double, sizeof(double), "AllReduce(double)");
        if (op == ReduceOp.Average) foreach (ref var v in values) v /= Size;
    }

    private void AllReduceFloats(Span<float> values)
    {
        fixed (float* p = values) ReduceThenBroadcast((nint)p, values.Length, _mpi.Float, sizeof(float), "AllReduce(float)");
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> buffer, int root = 0)
    {
        CollectiveChecks.Root(root, Size);
        fixed (byte* p = buffer) BroadcastRaw((nint)p, buffer.Length, _mpi.Byte, 1, root, "Broadcast");
    }

    /// <inheritdoc/>
    public void Broadcast(Tensor buffer, int root = 0)
    {
        CollectiveChecks.Root(root, Size);
        HostCollectives.BroadcastTensor(buffer, bytes => Broadcast(bytes, root));
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        Enter("Barrier");
        nint request;
        _mpi.Check(_mpi.Ibarrier(_mpi.CommWorld, &request), "MPI_Ibarrier");
        Wait(&request, "Barrier");
    }

    private void ReduceThenBroadcast(nint data, int count, nint type, int elementSize, string what)
    {
        for (int start = 0; start < count || (count == 0 && start == 0); start += MaxChunk)
        {
            int n = Math.Min(MaxChunk, count - start);
            nint at = data + (nint)start * elementSize;
            Enter(what);
            nint request;
            _mpi.Check(_mpi.Ireduce(Rank == 0 ? MpiLibrary.InPlace : at, at, n, type, _mpi.OpSum, 0, _mpi.CommWorld, &request), "MPI_Ireduce");
            Wait(&request, what);
            BroadcastRaw(at, n, type, elementSize, 0, what);
            if (count == 0) break;
        }
    }

    private void BroadcastRaw(nint data, int count, nint type, int elementSize, int root, string what)
    {
        for (int start = 0; start < count || (count == 0 && start == 0); start += MaxChunk)
        {
            int n = Math.Min(MaxChunk, count - start);
            Enter(what);
            nint request;
            _mpi.Check(_mpi.Ibcast(data + (nint)start * elementSize, n, type, root, _mpi.CommWorld, &request), "MPI_Ibcast");
            Wait(&request, what);
            if (count == 0) break;
        }
    }

    // Counts the collective and tells rank 0 this rank has reached it.
    private void Enter(string what)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _sequence++;
        _arrivals.Announce(_sequence);
    }

    // Polls the request until it completes; past the deadline, names the missing ranks and aborts the job.
    private void Wait(nint* request, string what)
    {
        var clock = Stopwatch.StartNew();
        long spins = 0;
        while (true)
        {
            int done;
            _mpi.Check(_mpi.Test(request, &done, 0), "MPI_Test");
            _arrivals.Poll();
            if (done != 0) break;
            if (clock.Elapsed > CollectiveTimeout) TimedOut(what, clock.Elapsed);
            if (++spins > 2000) Thread.Sleep(spins > 20000 ? 1 : 0);   // leave the cores to the other ranks while waiting
        }
        CollectiveSeconds += clock.Elapsed.TotalSeconds;
    }

    private void TimedOut(string what, TimeSpan waited)
    {
        string missing = _arrivals.Missing(_sequence) is { Count: > 0 } late
            ? $"rank(s) {string.Join(", ", late)} did not reach it"
            : Rank == 0 ? "every rank reached it; a transfer stalled" : "a rank did not reach it (rank 0 names it)";
        string message = $"rank {Rank}: collective #{_sequence} ({what}) did not complete within {waited.TotalSeconds:0} s: {missing}. " +
            "Stopping the job (MPI_Abort); the last checkpoint is intact.";
        Console.Error.WriteLine("error: " + message);
        Console.Error.Flush();
        _mpi.Abort(_mpi.CommWorld, 3);
        throw new DistributedException(message);   // MPI_Abort does not return; this is for completeness
    }

    /// <summary>Waits for the other ranks, then finalizes MPI when this communicator initialized it.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        int finalized;
        _mpi.Check(_mpi.Finalized(&finalized), "MPI_Finalized");
        if (finalized == 0)
        {
            Barrier();
            _arrivals.Drain(_sequence, CollectiveTimeout);
        }
        _disposed = true;
        if (_ownsInit && finalized == 0) _mpi.Check(_mpi.Finalize(), "MPI_Finalize");
    }

    /// <summary>Rank of this process as the launcher set it (Open MPI, PMIx), or null outside a launched job.</summary>
    public static int? LaunchedSize() =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") ?? Environment.GetEnvironmentVariable("PMIX_SIZE"), out int n) ? n : null;

    internal static nint Allocate(int bytes) => (nint)NativeMemory.AllocZeroed((nuint)bytes);
}
