using System.Diagnostics;
using PureLlama.Distributed;
using PureLlama.Tensors;

namespace PureLlama.Training;

/// <summary>
/// Sums the trainable gradients over the ranks of a data-parallel run, in buckets: consecutive parameters' gradients
/// are copied into one flat F32 buffer of at most <see cref="BucketElements"/> elements, the buffer is all-reduced,
/// and the sums are copied back — a few large messages instead of one per tensor. A last slot per parameter counts
/// the ranks that had a gradient, so a parameter no rank touched keeps no gradient (the optimizer skips it exactly as
/// in one process), and one touched anywhere gets the sum everywhere (zeros standing in for the ranks without one).
/// </summary>
internal sealed class GradientAllReduce(ICommunicator communicator, int bucketElements = 1 << 20)
{
    /// <summary>Largest bucket, in F32 elements (4 MiB by default).</summary>
    public int BucketElements { get; } = bucketElements > 0 ? bucketElements : throw new ArgumentOutOfRangeException(nameof(bucketElements));

    /// <summary>Seconds spent in all-reduces (copies included) since the trainer started.</summary>
    public double Seconds { get; private set; }

    /// <summary>Gradient bytes sent per step (F32).</summary>
    public long BytesPerStep { get; private set; }

    /// <summary>Replaces every parameter's gradient by its sum over the ranks.</summary>
    public void Run(IReadOnlyList<NamedParameter> parameters)
    {
        if (communicator.Size == 1) return;
        var clock = Stopwatch.StartNew();
        var present = new double[parameters.Count];
        for (int i = 0; i < parameters.Count; i++) present[i] = parameters[i].Value.Grad is null ? 0 : 1;
        communicator.AllReduce(present);
        long bytes = 0;
        foreach (var group in Buckets(parameters))
        {
            var device = parameters[group[0]].Value.Device;
            long total = group.Sum(i => parameters[i].Value.Numel);
            using var flat = Tensor.Zeros(new Shape(checked((int)total)), DType.F32, device);
            var backend = flat.Backend;
            long at = 0;
            foreach (int i in group)
            {
                var p = parameters[i].Value;
                if (p.Grad is { } g)
                    using (var slice = flat.ViewWith(g.Shape, g.Shape.ContiguousStrides(), at)) backend.Copy(g, slice);
                at += p.Numel;
            }
            communicator.AllReduce(flat);
            at = 0;
            foreach (int i in group)
            {
                var p = parameters[i].Value;
                if (present[i] > 0)
                {
                    p.Grad ??= Tensor.Zeros(p.Shape, DType.F32, p.Device);
                    using var slice = flat.ViewWith(p.Shape, p.Shape.ContiguousStrides(), at);
                    backend.Copy(slice, p.Grad);
                }
                at += p.Numel;
            }
            bytes += total * sizeof(float);
        }
        BytesPerStep = bytes;
        Seconds += clock.Elapsed.TotalSeconds;
    }

    // Consecutive parameters of one device, each bucket at most BucketElements (a larger tensor is a bucket alone).
    private IEnumerable<List<int>> Buckets(IReadOnlyList<NamedParameter> parameters)
    {
        var bucket = new List<int>();
        long size = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i].Value;
            bool full = bucket.Count > 0 && (size + p.Numel > BucketElements || parameters[bucket[0]].Value.Device != p.Device);
            if (full) { yield return bucket; bucket = []; size = 0; }
            bucket.Add(i);
            size += p.Numel;
        }
        if (bucket.Count > 0) yield return bucket;
    }
}
