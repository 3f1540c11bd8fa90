using PureLlama.Tensors;

namespace PureLlama.Compute;

/// <summary>The layouts of a sum-to-shape reduction that map onto a single kernel.</summary>
internal enum ReductionPattern { None, All, LeadingReduced, TrailingReduced, General }

/// <summary>
/// Sum of a source down to a broadcast-compatible destination shape (the reverse of broadcasting).
/// Neighbouring dimensions that are all kept or all reduced are merged, so most reductions become
/// "sum over rows" ([R, C] → [C]) or "sum over columns" ([R, C] → [R]).
/// </summary>
internal sealed class ReductionPlan
{
    public ReductionPattern Pattern { get; private init; }
    public int Rows { get; private init; }
    public int Cols { get; private init; }
    private int[] _dims = [];
    private bool[] _kept = [];

    public static ReductionPlan Create(Shape source, Shape destination)
    {
        if (destination.Rank > source.Rank) throw new ArgumentException($"SumToShape: destination {destination} has more dimensions than source {source}.");
        int pad = source.Rank - destination.Rank;
        var dims = new List<int>(); var kept = new List<bool>();
        for (int i = 0; i < source.Rank; i++)
        {
            int s = source.Dims[i];
            int d = i < pad ? 1 : destination.Dims[i - pad];
            if (d != s && d != 1) throw new ArgumentException($"SumToShape: destination {destination} is not a reduction of source {source} (dimension {i}: {d} vs {s}).");
            if (s == 1) continue;
            bool keep = d == s;
            if (dims.Count > 0 && kept[^1] == keep) dims[^1] *= s;
            else { dims.Add(s); kept.Add(keep); }
        }
        if (source.Numel != 0 && destination.Numel * 1L > source.Numel) throw new ArgumentException($"SumToShape: {destination} is larger than {source}.");
        var plan = new ReductionPlan { _dims = [.. dims], _kept = [.. kept], Pattern = Classify(dims, kept), Rows = RowsOf(dims), Cols = ColsOf(dims) };
        return plan;
    }

    private static ReductionPattern Classify(List<int> dims, List<bool> kept)
    {
        if (dims.Count == 0) return ReductionPattern.None;
        if (dims.Count == 1) return kept[0] ? ReductionPattern.None : ReductionPattern.All;
        if (dims.Count == 2) return kept[1] ? ReductionPattern.LeadingReduced : ReductionPattern.TrailingReduced;
        return ReductionPattern.General;
    }

    private static int RowsOf(List<int> d) => d.Count == 2 ? d[0] : 0;
    private static int ColsOf(List<int> d) => d.Count == 2 ? d[1] : 0;

    /// <summary>Any other layout: one pass over the source accumulating into the destination (double sums).</summary>
    public unsafe void SumGeneral(float* src, float* dst)
    {
        long outSize = 1;
        for (int i = 0; i < _dims.Length; i++) if (_kept[i]) outSize *= _dims[i];
        var acc = new double[outSize];
        long total = 1;
        foreach (var d in _dims) total *= d;
        var index = new int[_dims.Length];
        for (long e = 0; e < total; e++)
        {
            long o = 0;
            for (int i = 0; i < _dims.Length; i++) if (_kept[i]) o = o * _dims[i] + index[i];
            acc[o] += src[e];
            for (int i = _dims.Length - 1; i >= 0; i--) { if (++index[i] < _dims[i]) break; index[i] = 0; }
        }
        for (long i = 0; i < outSize; i++) dst[i] = (float)acc[i];
    }
}
