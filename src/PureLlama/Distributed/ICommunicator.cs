using PureLlama.Tensors;

namespace PureLlama.Distributed;

/// <summary>How <see cref="ICommunicator.AllReduce(Tensor, ReduceOp)"/> combines the ranks' buffers.</summary>
public enum ReduceOp
{
    /// <summary>Element-wise sum over the ranks.</summary>
    Sum,
    /// <summary>Element-wise sum divided by the number of ranks.</summary>
    Average,
}

/// <summary>
/// The collectives a data-parallel run needs, over the processes (ranks) of one job: every rank calls the same
/// collectives in the same order. After <see cref="AllReduce(Tensor, ReduceOp)"/> every rank holds bit-identical
/// values (the implementations reduce in one fixed order, then share the result), so optimizer steps stay identical.
/// A collective that does not complete within the communicator's timeout ends the run with an error naming the
/// rank that did not arrive (where it can be known) — never a silent hang.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index, 0 … <see cref="Size"/> − 1. Rank 0 writes checkpoints, logs and pictures.</summary>
    int Rank { get; }

    /// <summary>Number of ranks in the job (1 for a plain process).</summary>
    int Size { get; }

    /// <summary>What carries the bytes ("single process", "MPI (Open MPI 4.1)", "NCCL 2.21 over MPI").</summary>
    string Description { get; }

    /// <summary>In-place all-reduce of a contiguous F32 or BF16 tensor (BF16 is reduced in F32 and rounded once).</summary>
    void AllReduce(Tensor buffer, ReduceOp op = ReduceOp.Sum);

    /// <summary>In-place all-reduce of host doubles (losses, token counts, norms).</summary>
    void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum);

    /// <summary>Copies <paramref name="buffer"/> of rank <paramref name="root"/> into every rank's buffer (same length everywhere).</summary>
    void Broadcast(Span<byte> buffer, int root = 0);

    /// <summary>Copies the contiguous tensor of rank <paramref name="root"/> into every rank's tensor.</summary>
    void Broadcast(Tensor buffer, int root = 0);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();
}
