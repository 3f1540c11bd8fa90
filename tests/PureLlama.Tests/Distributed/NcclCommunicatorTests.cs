using System.Runtime.InteropServices;
using PureLlama.Distributed;
using PureLlama.Kernels.Numerics;
using PureLlama.Tensors;

namespace PureLlama.Tests.Distributed;

/// <summary>
/// The NCCL communicator's code path against a fake NCCL (host memory shared by in-process ranks) over the fake
/// bootstrap communicator: the unique id travels from rank 0, every rank joins the same communicator, tensors go
/// through NCCL (sum, average, BF16, broadcast) and host values through the bootstrap. No GPU or libnccl is needed.
/// </summary>
public class NcclCommunicatorTests
{
    // NCCL collectives on host pointers among the ranks of one process (each collective a rendezvous).
    private sealed unsafe class FakeNccl(int ranks) : INcclApi
    {
        private readonly Barrier _barrier = new(ranks);
        private readonly (nint Send, nint Receive)[] _slots = new (nint, nint)[ranks];
        private byte[]? _id;
        public int Joined;

        public string Version => "NCCL 0.0.0 (fake)";
        public byte[] GetUniqueId() => _id = [.. Enumerable.Range(0, 128).Select(i => (byte)(i * 7 + 3))];

        public nint CommInitRank(int n, byte[] uniqueId, int rank)
        {
            n.Should().Be(ranks);
            _barrier.SignalAndWait();   // rank 0 made the id before anyone joins
            uniqueId.Should().Equal(_id, "every rank joins with rank 0's unique id");
            Interlocked.Increment(ref Joined);
            return rank + 1;
        }

        public void AllReduce(nint send, nint receive, long count, NcclDataType type, NcclReduceOp op, nint comm, nint stream)
        {
            int rank = (int)comm - 1;
            _slots[rank] = (send, receive);
            _barrier.SignalAndWait();
            if (rank == 0)
            {
                var sum = new double[count];
                foreach (var (s, _) in _slots)
                    for (long i = 0; i < count; i++) sum[i] += Read(s, i, type);
                foreach (var (_, r) in _slots)
                    for (long i = 0; i < count; i++) Write(r, i, type, op == NcclReduceOp.Average ? sum[i] / ranks : sum[i]);
            }
            _barrier.SignalAndWait();
        }

        public void Broadcast(nint send, nint receive, long count, NcclDataType type, int root, nint comm, nint stream)
        {
            int rank = (int)comm - 1;
            _slots[rank] = (send, receive);
            _barrier.SignalAndWait();
            long bytes = count * (type == NcclDataType.Float32 ? 4 : 2);
            if (rank != root) Buffer.MemoryCopy((void*)_slots[root].Send, (void*)receive, bytes, bytes);
            _barrier.SignalAndWait();
        }

        public void CommDestroy(nint comm) => Interlocked.Decrement(ref Joined);

        private static double Read(nint p, long i, NcclDataType t) => t == NcclDataType.BFloat16 ? Bf16.ToFloat(((ushort*)p)[i]) : ((float*)p)[i];

        private static void Write(nint p, long i, NcclDataType t, double v)
        {
            if (t == NcclDataType.BFloat16) ((ushort*)p)[i] = Bf16.FromFloat((float)v);
            else ((float*)p)[i] = (float)v;
        }
    }

    // Every CPU tensor stands in for a device tensor (its host address is the "device pointer").
    private sealed unsafe class HostAsDevice : IDeviceMemory
    {
        public bool TryLocate(Tensor tensor, out nint pointer, out nint stream)
        {
            pointer = (nint)tensor.Pointer<byte>();
            stream = 0;
            return true;
        }

        public void Synchronize(Tensor tensor) { }
    }

    [Fact]
    public void Ranks_join_with_rank_0s_id_and_reduce_tensors_through_nccl_and_values_through_the_bootstrap()
    {
        var fake = new FakeNccl(3);
        var results = InProcessCommunicator.Run(3, bootstrap =>
        {
            using var nccl = new NcclCommunicator(bootstrap, fake, new HostAsDevice());
            nccl.Description.Should().Contain("fake").And.Contain("in-process");
            using var f32 = Tensor.FromArray(new[] { 1f + nccl.Rank, 10f * nccl.Rank, -2f }, new Shape(3));
            nccl.AllReduce(f32);
            using var avg = Tensor.FromArray(new[] { 3f * nccl.Rank }, new Shape(1));
            nccl.AllReduce(avg, ReduceOp.Average);
            using var bf = Tensor.FromArray(new[] { 1.5f, 2f * nccl.Rank }, new Shape(2)).To(DType.BF16);
            nccl.AllReduce(bf);
            using var root = Tensor.FromArray(new[] { 100f + nccl.Rank, 7f }, new Shape(2));
            nccl.Broadcast(root, root: 2);
            Span<double> loss = [nccl.Rank + 0.5];
            nccl.AllReduce(loss);
            nccl.Barrier();
            return (f32.ToFloatArray(), avg.ToFloatArray(), bf.ToFloatArray(), root.ToFloatArray(), loss[0]);
        });
        fake.Joined.Should().Be(0, "every rank destroyed its communicator");
        foreach (var (f32, avg, bf, root, loss) in results)
        {
            f32.Should().Equal(6f, 30f, -6f);
            avg.Should().Equal(3f);
            bf.Should().Equal(4.5f, 6f);
            root.Should().Equal(102f, 7f);
            loss.Should().Be(4.5);
        }
    }

    [Fact]
    public void Without_libnccl_the_error_names_what_to_install()
    {
        if (NativeLibrary.TryLoad("libnccl.so.2", out var h)) { NativeLibrary.Free(h); throw new PureLlama.Tests.Shared.SkipTestException("NCCL is installed here: the missing-library error cannot be shown"); }
        var e = FluentActions.Invoking(() => NcclCommunicator.Create(SingleProcessCommunicator.Instance)).Should().Throw<DistributedException>().Which;
        e.Message.Should().Contain("libnccl.so.2").And.Contain("Install NCCL");
    }
}
