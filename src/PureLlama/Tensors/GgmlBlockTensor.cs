using PureLlama.Kernels.Blocks;

namespace PureLlama.Tensors;

/// <summary>
/// A weight [out, in] in one of ggml's block formats (Q8_0, Q4_0, Q4_K, Q6_K), byte for byte as a GGUF
/// file stores it: <see cref="Blocks"/> U8 [out · rowBytes], each row in/BlockValues blocks back to back
/// (GGML shape [ne0 = in, ne1 = out]). The bytes may live in a memory-mapped file. Block layouts:
/// docs/formats.md; kernels: docs/kernels/gguf-blocks.md.
/// </summary>
public sealed class GgmlBlockTensor : QuantizedTensor
{
    private readonly Shape _shape;
    private readonly Tensor[] _components;

    /// <summary>Wraps the raw blocks (ownership passes to this tensor) after checking their length.</summary>
    /// <param name="type">Q8_0, Q4_0, Q4_K or Q6_K.</param>
    /// <param name="shape">[out, in]; in must be a multiple of the block (32 or 256).</param>
    /// <param name="blocks">Contiguous U8 [out · in / BlockValues · BlockBytes].</param>
    public GgmlBlockTensor(GgmlType type, Shape shape, Tensor blocks)
    {
        if (!BlockFormats.IsBlockFormat(type))
            throw new ArgumentException($"ggml type {type} ({(uint)type}) is not a block format (Q8_0, Q4_0, Q4_K, Q6_K).", nameof(type));
        if (shape.Rank != 2 || shape[0] <= 0 || shape[1] <= 0)
            throw new ArgumentException($"A {type} weight is [out, in] with both > 0, got {shape}.", nameof(shape));
        int bv = BlockFormats.BlockValues(type);
        if (shape[1] % bv != 0)
            throw new ArgumentException($"A {type} weight stores rows in blocks of {bv} values; a row of {shape[1]} values ({shape}) does not fit.", nameof(shape));
        ArgumentNullException.ThrowIfNull(blocks);
        Type = type;
        RowBytes = BlockFormats.RowBytes(type, shape[1]);
        Require(blocks, $"{type} blocks", DType.U8, shape[0] * RowBytes, blocks.Device);
        _shape = shape;
        Blocks = blocks;
        _components = [blocks];
    }

    /// <summary>The ggml type of the blocks.</summary>
    public GgmlType Type { get; }

    /// <summary>U8 [out · RowBytes]: the blocks, row after row.</summary>
    public Tensor Blocks { get; }

    /// <summary>Bytes of one row.</summary>
    public long RowBytes { get; }

    /// <inheritdoc/>
    public override Shape Shape => _shape;
    /// <inheritdoc/>
    public override QuantFormat Format => Type switch
    {
        GgmlType.Q8_0 => QuantFormat.Q8_0,
        GgmlType.Q4_0 => QuantFormat.Q4_0,
        GgmlType.Q4_K => QuantFormat.Q4_K,
        _ => QuantFormat.Q6_K,
    };
    /// <inheritdoc/>
    public override Device Device => Blocks.Device;
    /// <inheritdoc/>
    public override IReadOnlyList<Tensor> Components => _components;

    /// <inheritdoc/>
    public override QuantizedTensor To(Device device) => new GgmlBlockTensor(Type, Shape, Blocks.To(device)) { Name = Name };
}
