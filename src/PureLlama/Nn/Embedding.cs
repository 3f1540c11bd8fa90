using PureLlama.Autograd;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// Token embedding: rows of a table [vocab, dim] (F32 or BF16, HF <c>model.embed_tokens.weight</c>)
/// picked by I32 ids. Owns its table handle.
/// </summary>
public sealed class Embedding : IDisposable
{
    /// <summary>Wraps <paramref name="table"/> [vocab, dim]; the module takes ownership of this handle.</summary>
    public Embedding(Tensor table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Rank != 2) throw new ArgumentException($"Embedding table must be [vocab, dim], got {table.Describe()}.", nameof(table));
        Table = table;
    }

    /// <summary>The table [vocab, dim].</summary>
    public Tensor Table { get; }

    /// <summary>Number of rows.</summary>
    public int VocabSize => Table.Shape[0];

    /// <summary>Row width.</summary>
    public int Dim => Table.Shape[1];

    /// <summary>ids: I32 [..] → [.., dim]; an id outside [0, vocab) is an <see cref="ArgumentException"/>.</summary>
    public Tensor Forward(Tensor ids) => Ops.Embedding(Table, ids);

    /// <inheritdoc/>
    public void Dispose() => Table.Dispose();
}
