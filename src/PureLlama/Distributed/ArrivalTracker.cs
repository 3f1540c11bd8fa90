using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PureLlama.Distributed;

/// <summary>
/// Which collective each rank has reached, known to rank 0: every other rank sends the sequence number of each
/// collective it enters (8 bytes, non-blocking); rank 0 keeps one receive posted per peer and records the latest
/// value whenever it polls. When a collective times out, rank 0 can then name the ranks that never reached it.
/// </summary>
internal sealed unsafe class ArrivalTracker
{
    private const int Ring = 64;
    private readonly MpiLibrary _mpi;
    private readonly int _rank, _size, _tag;
    private readonly long* _slots;        // non-root: outgoing values (ring); root: one incoming value per peer
    private readonly nint* _requests;     // the matching requests (0 = none outstanding)
    private readonly long[] _reached;     // root: latest sequence seen per rank
    private long _sent;

    public ArrivalTracker(MpiLibrary mpi, int rank, int size, int tag)
    {
        _mpi = mpi; _rank = rank; _size = size; _tag = tag;
        int slots = rank == 0 ? size : Ring;
        _slots = (long*)NativeMemory.AllocZeroed((nuint)(slots * sizeof(long)));
        _requests = (nint*)NativeMemory.AllocZeroed((nuint)(slots * sizeof(nint)));
        _reached = new long[size];
        if (rank == 0)
            for (int peer = 1; peer < size; peer++) PostReceive(peer);
    }

    /// <summary>This rank enters collective number <paramref name="sequence"/>.</summary>
    public void Announce(long sequence)
    {
        if (_rank == 0) { _reached[0] = sequence; Poll(); return; }
        int slot = (int)(_sent++ % Ring);
        if (_requests[slot] != 0) WaitLocal(slot);
        _slots[slot] = sequence;
        nint request;
        _mpi.Check(_mpi.Isend((nint)(_slots + slot), 1, _mpi.LongLong, 0, _tag, _mpi.CommWorld, &request), "MPI_Isend");
        _requests[slot] = request;
    }

    /// <summary>Root: takes in every arrival message that has come. Others: completes finished sends.</summary>
    public void Poll()
    {
        if (_rank != 0)
        {
            for (int slot = 0; slot < Ring; slot++)
                if (_requests[slot] != 0 && Done(slot)) _requests[slot] = 0;
            return;
        }
        for (int peer = 1; peer < _size; peer++)
            while (_requests[peer] != 0 && Done(peer))
            {
                _reached[peer] = Math.Max(_reached[peer], _slots[peer]);
                PostReceive(peer);
            }
    }

    /// <summary>Root: the ranks that have not reached <paramref name="sequence"/>; elsewhere empty (only rank 0 knows).</summary>
    public IReadOnlyList<int> Missing(long sequence)
    {
        if (_rank != 0) return [];
        Poll();
        var late = new List<int>();
        for (int r = 1; r < _size; r++) if (_reached[r] < sequence) late.Add(r);
        return late;
    }

    /// <summary>Before MPI_Finalize: root takes every arrival up to <paramref name="last"/> and cancels its receives; others finish their sends.</summary>
    public void Drain(long last, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        if (_rank == 0)
        {
            while (Missing(last).Count > 0 && clock.Elapsed < timeout) Thread.Sleep(0);
            for (int peer = 1; peer < _size; peer++)
            {
                if (_requests[peer] == 0) continue;
                nint request = _requests[peer];
                _mpi.Check(_mpi.Cancel(&request), "MPI_Cancel");
                int done = 0;
                while (done == 0 && clock.Elapsed < timeout) _mpi.Check(_mpi.Test(&request, &done, 0), "MPI_Test");
                _requests[peer] = 0;
            }
            return;
        }
        for (int slot = 0; slot < Ring; slot++)
            while (_requests[slot] != 0 && clock.Elapsed < timeout)
                if (Done(slot)) _requests[slot] = 0; else Thread.Sleep(0);
    }

    private void PostReceive(int peer)
    {
        nint request;
        _mpi.Check(_mpi.Irecv((nint)(_slots + peer), 1, _mpi.LongLong, peer, _tag, _mpi.CommWorld, &request), "MPI_Irecv");
        _requests[peer] = request;
    }

    private bool Done(int slot)
    {
        int done;
        _mpi.Check(_mpi.Test(_requests + slot, &done, 0), "MPI_Test");
        return done != 0;
    }

    private void WaitLocal(int slot)
    {
        while (!Done(slot)) Thread.Sleep(0);
        _requests[slot] = 0;
    }
}
