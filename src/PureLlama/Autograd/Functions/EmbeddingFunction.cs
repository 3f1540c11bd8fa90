using PureLlama.Tensors;

namespace PureLlama.Autograd.Functions;

/// <summary>y[.., :] = table[ids[..], :]; dTable = scatter-add of g into the rows named by ids.</summary>
internal sealed class EmbeddingFunction : Function
{
    private Tensor? _ids;

    public static Tensor Apply(Tensor table, Tensor ids)
    {
        if (table.Rank != 2) throw new ArgumentException($"Embedding: table must be [vocab, dim], got {table.Describe()}.");
        if (ids.DType != DType.I32) throw new ArgumentException($"Embedding: ids must be I32, got {ids.Describe()}.");
        int vocab = table.Shape[0], dim = table.Shape[1];
        var host = ids.ToArray<int>();
        CheckIds(host, vocab, table.Describe());
        var flatIds = ids.IsContiguous ? ids : ids.ContiguousCopy();
        using var ids1 = flatIds.ViewWith(new Shape(host.Length), [1], flatIds.Offset);
        var dims = ids.Shape.ToArray().Append(dim).ToArray();
        var y = Tensor.Empty(new Shape(dims), DType.F32, table.Device);
        using var y2 = y.ViewWith(new Shape(host.Length, dim), [dim, 1], 0);
        table.Backend.EmbeddingGather(table, ids1, y2);
        return Tape.Record(new EmbeddingFunction { _ids = flatIds }, y, table);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first id outside [0, vocab) of the table described.</summary>
    internal static void CheckIds(ReadOnlySpan<int> ids, int vocab, string table)
    {
        for (int i = 0; i < ids.Length; i++)
            if (ids[i] < 0 || ids[i] >= vocab) throw new ArgumentException($"Embedding: id {ids[i]} at position {i} is outside the vocabulary [0, {vocab}) of {table}.");
    }

    protected internal override Tensor?[] Backward(Tensor g)
    {
        var table = Inputs[0];
        int dim = table.Shape[1];
        var dTable = Tensor.Zeros(table.Shape, DType.F32, table.Device);
        int n = (int)_ids!.Numel;
        using var ids1 = _ids.ViewWith(new Shape(n), [1], _ids.Offset);
        using var g2 = g.ViewWith(new Shape(n, dim), [dim, 1], g.Offset);
        g.Backend.EmbeddingScatterAdd(g2, ids1, dTable);
        return [dTable];
    }

    protected internal override void ReleaseSaved() => _ids = null;
}
