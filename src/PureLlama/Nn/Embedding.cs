using PureLlama.Autograd;
using PureLlama.Kernels.Blocks;
using PureLlama.Tensors;

namespace PureLlama.Nn;

/// <summary>
/// Token embedding: rows of a table [vocab, dim] (F32 or BF16, HF <c>model.embed_tokens.weight</c>)
/// picked by I32 ids. Owns its table handle. A table held in a ggml block format (a GGUF file's token_embd)
/// stays in it: the gather dequantizes only the rows it is asked for (as llama.cpp's get_rows), and the dense
/// F32 <see cref="Table"/> is made the first time something asks for it (export, merge, full fine-tuning).
/// </summary>
public sealed class Embedding : IDisposable
{
    private readonly GgmlBlockTensor? _blocks;
    private readonly Lock _tableLock = new();
    private Tensor? _table;

    /// <summary>Wraps <paramref name="table"/> [vocab, dim]; the module takes ownership of this handle.</summary>
    public Embedding(Tensor table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Rank != 2) throw new ArgumentException($"Embedding table must be [vocab, dim], got {table.Describe()}.", nameof(table));
        _table = table;
    }

    /// <summary>Wraps a table in a block format on the CPU [vocab, dim]; the module takes ownership of it.</summary>
    internal Embedding(GgmlBlockTensor table)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Device != Device.Cpu) throw new ArgumentException($"A block-format embedding table gathers on the CPU; {table.Describe()} is not.", nameof(table));
        _blocks = table;
    }

    /// <summary>The table [vocab, dim] (for a block-format table: its F32 values, made on first use and kept).</summary>
    public Tensor Table
    {
        get
        {
            if (Volatile.Read(ref _table) is { } t) return t;
            lock (_tableLock) return _table ??= DequantizeAll(_blocks!);
        }
    }

    /// <summary>Whether the table is held in a block format and not (yet) as a dense F32 copy.</summary>
    internal bool GathersFromBlocks => _blocks is not null && Volatile.Read(ref _table) is null;

    /// <summary>Number of rows.</summary>
    public int VocabSize => _blocks?.Rows ?? _table!.Shape[0];

    /// <summary>Row width.</summary>
    public int Dim => _blocks?.Columns ?? _table!.Shape[1];

    /// <summary>ids: I32 [..] → [.., dim]; an id outside [0, vocab) is an <see cref="ArgumentException"/>.</summary>
    public Tensor Forward(Tensor ids) => GathersFromBlocks ? GatherBlockRows(_blocks!, ids) : Ops.Embedding(Table, ids);

    // The rows named by ids, each dequantized by the block kernels that dequantize the whole table (the same bits).
    private static unsafe Tensor GatherBlockRows(GgmlBlockTensor blocks, Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.DType != DType.I32) throw new ArgumentException($"Embedding: ids must be I32, got {ids.Describe()}.");
        var host = ids.ToArray<int>();
        int vocab = blocks.Rows, dim = blocks.Columns;
        Autograd.Functions.EmbeddingFunction.CheckIds(host, vocab, blocks.Describe());
        var y = Tensor.Empty(new Shape([.. ids.Shape.ToArray(), dim]), DType.F32, Device.Cpu);
        fixed (int* idp = host)
            BlockFormats.Visit(blocks.Type, new RowGather(blocks.Blocks.Pointer<byte>(), vocab, dim, idp, host.Length, y.Pointer<float>()));
        return y;
    }

    private readonly unsafe struct RowGather(byte* table, int rows, int cols, int* ids, int n, float* dst) : IBlockFormatVisitor<bool>
    {
        public bool Visit<T>() where T : struct, IBlockFormat
        {
            var w = BlockKernels<T>.View(rows, cols, table);
            for (int i = 0; i < n; i++) BlockKernels<T>.DequantizeRows(w, ids[i], ids[i] + 1, dst + (long)i * cols);
            return true;
        }
    }

    private static unsafe Tensor DequantizeAll(GgmlBlockTensor blocks)
    {
        using var all = Tensor.FromArray(Enumerable.Range(0, blocks.Rows).ToArray(), new Shape(blocks.Rows));
        var table = GatherBlockRows(blocks, all);
        table.Name = "model.embed_tokens.weight";
        return table;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _table?.Dispose();
        _blocks?.Dispose();
    }
}
