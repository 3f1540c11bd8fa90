using PureLlama.Distributed;
using PureLlama.Tensors;

namespace PureLlama.Tests.Distributed;

/// <summary>
/// A fake communicator for tests: <c>size</c> ranks as threads of one process sharing a barrier. An all-reduce adds the
/// ranks' buffers in rank order on rank 0's thread ((b0 + b1) + b2 …, as Open MPI's reduce to rank 0 does for two ranks)
/// and gives every rank the result.
/// </summary>
internal sealed class InProcessCommunicator : ICommunicator
{
    private sealed class Shared(int size)
    {
        public readonly Barrier Barrier = new(size);
        public readonly object?[] Slots = new object?[size];
    }

    private readonly Shared _shared;

    private InProcessCommunicator(Shared shared, int rank, int size) { _shared = shared; Rank = rank; Size = size; }

    /// <summary>The communicators of one job, one per rank.</summary>
    public static InProcessCommunicator[] Create(int size)
    {
        var shared = new Shared(size);
        return [.. Enumerable.Range(0, size).Select(r => new InProcessCommunicator(shared, r, size))];
    }

    /// <summary>Runs <paramref name="body"/> once per rank, each on its own thread, and rethrows the first failure.</summary>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body)
    {
        var comms = Create(size);
        var results = new T[size];
        var errors = new Exception?[size];
        var threads = comms.Select((c, r) => new Thread(() =>
        {
            try { results[r] = body(c); }
            catch (Exception e) { errors[r] = e; c._shared.Barrier.RemoveParticipant(); }
        }, 16 << 20)).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw new AggregateException(error);
        return results;
    }

    public int Rank { get; }
    public int Size { get; }
    public string Description => $"in-process fake, {Size} ranks";
    public int Collectives { get; private set; }

    public void AllReduce(Tensor buffer, ReduceOp op = ReduceOp.Sum)
    {
        var values = buffer.ToFloatArray();
        ReduceFloats(values);
        if (op == ReduceOp.Average) for (int i = 0; i < values.Length; i++) values[i] *= 1f / Size;
        using var result = Tensor.FromArray(values, buffer.Shape, buffer.Device);
        buffer.Backend.Copy(result, buffer);
    }

    public void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum)
    {
        var copy = values.ToArray();
        var summed = Exchange(copy, parts => parts.Cast<double[]>().Aggregate((a, b) => a.Zip(b, (x, y) => x + y).ToArray()));
        for (int i = 0; i < values.Length; i++) values[i] = op == ReduceOp.Average ? summed[i] / Size : summed[i];
    }

    public void Broadcast(Span<byte> buffer, int root = 0)
    {
        var result = Exchange(buffer.ToArray(), parts => (byte[])parts[root]!);
        result.CopyTo(buffer);
    }

    public void Broadcast(Tensor buffer, int root = 0)
    {
        var values = Exchange(buffer.ToFloatArray(), parts => (float[])parts[root]!);
        using var result = Tensor.FromArray(values, buffer.Shape, buffer.Device);
        buffer.Backend.Copy(result, buffer);
    }

    public void Barrier() => Exchange(0, _ => 0);

    public void Dispose() { }

    private void ReduceFloats(float[] values)
    {
        var summed = Exchange(values, parts =>
        {
            var sum = (float[])((float[])parts[0]!).Clone();
            for (int r = 1; r < parts.Length; r++)
            {
                var p = (float[])parts[r]!;
                for (int i = 0; i < sum.Length; i++) sum[i] += p[i];
            }
            return sum;
        });
        summed.CopyTo(values, 0);
    }

    // Every rank posts its part; rank 0 combines them; every rank takes the result.
    private T Exchange<T>(T part, Func<object?[], T> combine)
    {
        Collectives++;
        _shared.Slots[Rank] = part;
        _shared.Barrier.SignalAndWait();
        if (Rank == 0) _shared.Slots[0] = combine(_shared.Slots);
        _shared.Barrier.SignalAndWait();
        var result = (T)_shared.Slots[0]!;
        _shared.Barrier.SignalAndWait();
        return result;
    }
}
