using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>
/// How two contiguous operands map onto a broadcast output: the output's dimensions with neighbouring
/// dimensions merged wherever both operands step through them alike, and each operand's element
/// strides over the merged dimensions (0 where it is broadcast). Backends iterate the outer merged
/// dimensions and run a 1-D kernel over the last one.
/// </summary>
internal sealed class BroadcastPlan
{
    public required int[] Dims { get; init; }
    public required long[] StridesA { get; init; }
    public required long[] StridesB { get; init; }

    public int Inner => Dims[^1];
    public int StepA => (int)StridesA[^1];
    public int StepB => (int)StridesB[^1];
    public long Outer => Dims.Length == 0 ? 1 : Dims[..^1].Aggregate(1L, (p, d) => p * d);

    public static BroadcastPlan Create(Shape a, Shape b, Shape y)
    {
        if (Shape.Broadcast(Shape.Broadcast(a, b), y) != y) throw new ArgumentException($"Operands {a} and {b} do not broadcast to the output shape {y}.");
        int rank = Math.Max(y.Rank, 1);
        var dims = new List<int>(); var sa = new List<long>(); var sb = new List<long>();
        long[] fullA = BroadcastStrides(a, y), fullB = BroadcastStrides(b, y);
        for (int i = 0; i < y.Rank; i++)
        {
            int d = y.Dims[i];
            if (d == 1) continue;
            if (dims.Count > 0 && (sa[^1] == 0) == (fullA[i] == 0) && (sb[^1] == 0) == (fullB[i] == 0))
            {
                // Merge with the previous dimension: strides of the merged dim are those of the inner one.
                dims[^1] *= d; sa[^1] = fullA[i]; sb[^1] = fullB[i];
            }
            else { dims.Add(d); sa.Add(fullA[i]); sb.Add(fullB[i]); }
        }
        if (dims.Count == 0) { dims.Add(1); sa.Add(1); sb.Add(1); }
        _ = rank;
        return new BroadcastPlan { Dims = [.. dims], StridesA = [.. sa], StridesB = [.. sb] };
    }

    /// <summary>Element offsets of a and b for outer row <paramref name="row"/> (row-major over Dims[..^1]).</summary>
    public (long A, long B) Offsets(long row)
    {
        long oa = 0, ob = 0;
        for (int i = Dims.Length - 2; i >= 0; i--)
        {
            long idx = row % Dims[i];
            row /= Dims[i];
            oa += idx * StridesA[i];
            ob += idx * StridesB[i];
        }
        return (oa, ob);
    }

    private static long[] BroadcastStrides(Shape x, Shape y)
    {
        var own = x.ContiguousStrides();
        var result = new long[y.Rank];
        int pad = y.Rank - x.Rank;
        for (int i = 0; i < y.Rank; i++)
        {
            int xi = i - pad;
            result[i] = xi < 0 || x.Dims[xi] == 1 ? 0 : own[xi];
        }
        return result;
    }
}
